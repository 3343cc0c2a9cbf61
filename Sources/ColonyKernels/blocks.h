// Block structs shared by the kernel files (not part of the public header).
#ifndef COLONY_KERNELS_BLOCKS_H
#define COLONY_KERNELS_BLOCKS_H
#include "ColonyKernels.h"
#include <stdint.h>

typedef struct { uint16_t d; uint8_t qs[16]; } ck_block_q4_0;
typedef struct { uint16_t d; uint16_t m; uint8_t qs[16]; } ck_block_q4_1;
typedef struct { uint16_t d; int8_t qs[32]; } ck_block_q8_0;

typedef struct { uint16_t d; uint8_t qh[4]; uint8_t qs[16]; } ck_block_q5_0;
typedef struct { uint16_t d; uint16_t m; uint8_t qh[4]; uint8_t qs[16]; } ck_block_q5_1;

// K-quants: super-blocks of 256 elements (QK_K) with sub-block scales, as GGML lays them out.
#define CK_QK 256
typedef struct { uint8_t scales[16]; uint8_t qs[64]; uint16_t d; uint16_t dmin; } ck_block_q2_K;
typedef struct { uint8_t hmask[32]; uint8_t qs[64]; uint8_t scales[12]; uint16_t d; } ck_block_q3_K;
typedef struct { uint16_t d; uint16_t dmin; uint8_t scales[12]; uint8_t qs[128]; } ck_block_q4_K;
typedef struct { uint16_t d; uint16_t dmin; uint8_t scales[12]; uint8_t qh[32]; uint8_t qs[128]; } ck_block_q5_K;
typedef struct { uint8_t ql[128]; uint8_t qh[64]; int8_t scales[16]; uint16_t d; } ck_block_q6_K;

_Static_assert(sizeof(ck_block_q5_0) == 22, "Q5_0 block is 22 bytes");
_Static_assert(sizeof(ck_block_q5_1) == 24, "Q5_1 block is 24 bytes");
_Static_assert(sizeof(ck_block_q2_K) == 84, "Q2_K block is 84 bytes");
_Static_assert(sizeof(ck_block_q3_K) == 110, "Q3_K block is 110 bytes");
_Static_assert(sizeof(ck_block_q4_K) == 144, "Q4_K block is 144 bytes");
_Static_assert(sizeof(ck_block_q5_K) == 176, "Q5_K block is 176 bytes");
_Static_assert(sizeof(ck_block_q6_K) == 210, "Q6_K block is 210 bytes");

/// Dequantises `n` elements (a multiple of 256) of a K-quant row (kquant.c).
void ck_dequantize_k(int type, const void *src, float *dst, int64_t n);
/// The 6-bit scale and min of sub-block j (0..7) of a Q4_K/Q5_K block, as GGML unpacks them.
static inline void ck_scale_min_k4(int j, const uint8_t *q, uint8_t *d, uint8_t *m) {
    if (j < 4) {
        *d = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *d = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}
/// The 16 signed 6-bit scales of a Q3_K block, unpacked as GGML does (without the -32).
void ck_q3_k_scales(const uint8_t packed[12], int8_t out[16]);

_Static_assert(sizeof(ck_block_q4_0) == 18, "Q4_0 block is 18 bytes");
_Static_assert(sizeof(ck_block_q4_1) == 20, "Q4_1 block is 20 bytes");
_Static_assert(sizeof(ck_block_q8_0) == 34, "Q8_0 block is 34 bytes");

/// Packed Q5_0, Q5_1 and K-quant matrices (packed_k.c): record size (0 for other types),
/// packing and the integer matmul, as ck_pack and ck_packed_matmul for the other types.
int64_t ck_k_record_bytes(int type);
void ck_pack_k(int type, const void *src, void *dst, int64_t n, int64_t k);
void ck_packed_matmul_k(int type, const void *packed, int64_t k, int64_t g0, int64_t g1,
                        const ck_act *x, int64_t t, float *y, int64_t ldy);

/// Functions compiled for AVX-512 with VNNI; called only when ck_has_avx512_vnni().
#define CK_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,f16c,fma")))

#endif
