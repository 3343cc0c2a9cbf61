// Block structs shared by the kernel files (not part of the public header).
#ifndef COLONY_KERNELS_BLOCKS_H
#define COLONY_KERNELS_BLOCKS_H
#include <stdint.h>

typedef struct { uint16_t d; uint8_t qs[16]; } ck_block_q4_0;
typedef struct { uint16_t d; uint16_t m; uint8_t qs[16]; } ck_block_q4_1;
typedef struct { uint16_t d; int8_t qs[32]; } ck_block_q8_0;

_Static_assert(sizeof(ck_block_q4_0) == 18, "Q4_0 block is 18 bytes");
_Static_assert(sizeof(ck_block_q4_1) == 20, "Q4_1 block is 20 bytes");
_Static_assert(sizeof(ck_block_q8_0) == 34, "Q8_0 block is 34 bytes");

/// Functions compiled for AVX-512 with VNNI; called only when ck_has_avx512_vnni().
#define CK_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,f16c,fma")))

#endif
