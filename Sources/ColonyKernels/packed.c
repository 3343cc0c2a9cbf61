// Integer matmul over packed quantised matrices.
//
// Packed layout, for 16-row group g and 32-column block b, one record:
//   Q4_0: u16 d[16]              | u8 qs[4][16][4]   (288 bytes)
//   Q4_1: u16 d[16] | u16 m[16]  | u8 qs[4][16][4]   (320 bytes)
//   Q8_0: u16 d[16]              | u8 qs[8][16][4]   (544 bytes; quants stored +128)
// qs[c][r] holds 4 bytes of row r: for Q4, bytes 4c..4c+3 of the GGUF block, whose low
// nibbles are columns 4c..4c+3 and high nibbles columns 16+4c..; for Q8_0, columns
// 4c..4c+3. One 64-byte load is then the 16 rows × 4 columns that one VPDPBUSD multiplies
// by a broadcast of 4 activations, leaving each row's sum in its own lane: no horizontal
// adds, one scale multiply per block for all 16 rows. Records are ordered (g, b).
//
// Offsets are folded in integers: Q4_0 subtracts 8·Σv, Q8_0 128·Σv (its +128 makes the
// quants unsigned for VPDPBUSD), Q4_1 adds m·d_x·Σv.
#include "ColonyKernels.h"
#include "blocks.h"
#include <immintrin.h>
#include <math.h>
#include <string.h>

static int64_t record_bytes(int type) {
    switch (type) {
    case CK_Q4_0: return 32 + 256;
    case CK_Q4_1: return 64 + 256;
    case CK_Q8_0: return 32 + 512;
    default: return 0;
    }
}

/// Bytes per record (16 rows × one block) of any packable type.
static int64_t any_record_bytes(int type) { return record_bytes(type) ? record_bytes(type) : ck_k_record_bytes(type); }

int ck_packable(int type, int64_t n) { return any_record_bytes(type) != 0 && n % 16 == 0 && n > 0; }

int64_t ck_packed_bytes(int type, int64_t n, int64_t k) { return (n / 16) * (k / ck_block_elements(type)) * any_record_bytes(type); }

void ck_pack(int type, const void *src, void *dst, int64_t n, int64_t k) {
    if (!record_bytes(type)) {
        ck_pack_k(type, src, dst, n, k);
        return;
    }
    const int64_t nb = k / 32, rec = record_bytes(type), bb = ck_block_bytes(type);
    for (int64_t g = 0; g < n / 16; g++) {
        for (int64_t b = 0; b < nb; b++) {
            uint8_t *out = (uint8_t *)dst + (g * nb + b) * rec;
            uint16_t *d = (uint16_t *)out;
            for (int r = 0; r < 16; r++) {
                const uint8_t *blk = (const uint8_t *)src + ((g * 16 + r) * nb + b) * bb;
                if (type == CK_Q8_0) {
                    const ck_block_q8_0 *q = (const ck_block_q8_0 *)blk;
                    d[r] = q->d;
                    for (int c = 0; c < 8; c++)
                        for (int j = 0; j < 4; j++) out[32 + c * 64 + r * 4 + j] = (uint8_t)(q->qs[c * 4 + j] + 128);
                } else {
                    const uint8_t *qs;
                    if (type == CK_Q4_1) {
                        const ck_block_q4_1 *q = (const ck_block_q4_1 *)blk;
                        d[r] = q->d; d[16 + r] = q->m; qs = q->qs;
                    } else {
                        const ck_block_q4_0 *q = (const ck_block_q4_0 *)blk;
                        d[r] = q->d; qs = q->qs;
                    }
                    uint8_t *quants = out + (type == CK_Q4_1 ? 64 : 32);
                    for (int c = 0; c < 4; c++) memcpy(quants + c * 64 + r * 4, qs + c * 4, 4);
                }
            }
        }
    }
}

static void quantize_act_generic(const float *x, int64_t k, ck_act out) {
    const float levels = out.lo ? 16256.0f : 127.0f; // 127·128 for the split form
    for (int64_t b = 0; b < k / 32; b++) {
        const float *xb = x + b * 32;
        float amax = 0;
        for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(xb[j]));
        float d = amax / levels, id = d != 0 ? 1.0f / d : 0;
        int32_t sum = 0, first = 0;
        for (int j = 0; j < 32; j++) {
            int32_t v = (int32_t)lrintf(xb[j] * id);
            sum += v;
            if (j < 16) first += v;
            if (out.lo) {
                out.hi[b * 32 + j] = (int8_t)(v >> 7); // floor(v / 128): lo stays in [0, 127]
                out.lo[b * 32 + j] = (int8_t)(v & 127);
            } else {
                out.hi[b * 32 + j] = (int8_t)v;
            }
        }
        out.d[b] = d;
        out.isum[b] = sum;
        out.isum16[2 * b] = first;
        out.isum16[2 * b + 1] = sum - first;
        out.s[b] = d * (float)sum;
    }
}

CK_AVX512 static void quantize_act_avx512(const float *x, int64_t k, ck_act out) {
    const float levels = out.lo ? 16256.0f : 127.0f;
    const __m512 absmask = _mm512_castsi512_ps(_mm512_set1_epi32(0x7fffffff));
    for (int64_t b = 0; b < k / 32; b++) {
        __m512 x0 = _mm512_loadu_ps(x + b * 32), x1 = _mm512_loadu_ps(x + b * 32 + 16);
        float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_and_ps(x0, absmask), _mm512_and_ps(x1, absmask)));
        float d = amax / levels, id = d != 0 ? 1.0f / d : 0;
        // Round to nearest even, as lrintf does in the portable path.
        __m512i v0 = _mm512_cvtps_epi32(_mm512_mul_ps(x0, _mm512_set1_ps(id)));
        __m512i v1 = _mm512_cvtps_epi32(_mm512_mul_ps(x1, _mm512_set1_ps(id)));
        int32_t first = _mm512_reduce_add_epi32(v0), sum = first + _mm512_reduce_add_epi32(v1);
        if (out.lo) {
            const __m512i seven = _mm512_set1_epi32(127);
            _mm_storeu_si128((__m128i *)(out.lo + b * 32), _mm512_cvtepi32_epi8(_mm512_and_si512(v0, seven)));
            _mm_storeu_si128((__m128i *)(out.lo + b * 32 + 16), _mm512_cvtepi32_epi8(_mm512_and_si512(v1, seven)));
            v0 = _mm512_srai_epi32(v0, 7);
            v1 = _mm512_srai_epi32(v1, 7);
        }
        _mm_storeu_si128((__m128i *)(out.hi + b * 32), _mm512_cvtepi32_epi8(v0));
        _mm_storeu_si128((__m128i *)(out.hi + b * 32 + 16), _mm512_cvtepi32_epi8(v1));
        out.d[b] = d;
        out.isum[b] = sum;
        out.isum16[2 * b] = first;
        out.isum16[2 * b + 1] = sum - first;
        out.s[b] = d * (float)sum;
    }
}

void ck_quantize_act(const float *x, int64_t k, ck_act out) {
    if (ck_has_avx512_vnni()) quantize_act_avx512(x, k, out);
    else quantize_act_generic(x, k, out);
}

// MARK: - Portable path

/// Unsigned quant of column `col` of row `r` in a record (Q8_0 keeps its +128).
static inline int32_t packed_quant(int type, const uint8_t *rec, int r, int col) {
    if (type == CK_Q8_0) return rec[32 + (col / 4) * 64 + r * 4 + col % 4];
    const uint8_t *quants = rec + (type == CK_Q4_1 ? 64 : 32);
    int c = (col % 16) / 4;
    uint8_t byte = quants[c * 64 + r * 4 + col % 4];
    return col < 16 ? (byte & 0x0f) : (byte >> 4);
}

static void packed_matmul_generic(int type, const void *packed, int64_t k, int64_t g0, int64_t g1,
                                  const ck_act *x, int64_t t, float *y, int64_t ldy) {
    const int64_t nb = k / 32, rec = record_bytes(type);
    const int32_t offset = type == CK_Q4_0 ? 8 : type == CK_Q8_0 ? 128 : 0;
    for (int64_t g = g0; g < g1; g++) {
        for (int64_t i = 0; i < t; i++) {
            for (int r = 0; r < 16; r++) {
                float acc = 0;
                for (int64_t b = 0; b < nb; b++) {
                    const uint8_t *p = (const uint8_t *)packed + (g * nb + b) * rec;
                    int32_t sum = 0;
                    for (int col = 0; col < 32; col++) {
                        int32_t v = x[i].hi[b * 32 + col];
                        if (x[i].lo) v = v * 128 + x[i].lo[b * 32 + col];
                        sum += packed_quant(type, p, r, col) * v;
                    }
                    sum -= offset * x[i].isum[b];
                    const uint16_t *d = (const uint16_t *)p;
                    acc += ck_f16_to_f32(d[r]) * x[i].d[b] * (float)sum;
                    if (type == CK_Q4_1) acc += ck_f16_to_f32(d[16 + r]) * x[i].s[b];
                }
                y[i * ldy + g * 16 + r] = acc;
            }
        }
    }
}

// MARK: - AVX-512 VNNI path

CK_AVX512 static inline __m512i bcast4(const int8_t *p) { int32_t v; memcpy(&v, p, 4); return _mm512_set1_epi32(v); }

/// The per-block integer sums of 16 rows against one token, plain or split.
#define CK_PACKED_KERNEL(NAME, SPLIT)                                                                 \
CK_AVX512 static void NAME(int type, const void *packed, int64_t k, int64_t g0, int64_t g1,           \
                           const ck_act *x, int64_t t, float *y, int64_t ldy) {                        \
    const int64_t nb = k / 32, rec = record_bytes(type);                                               \
    const __m512i nib = _mm512_set1_epi8(0x0f);                                                        \
    const int32_t offset = type == CK_Q4_0 ? 8 : type == CK_Q8_0 ? 128 : 0;                            \
    for (int64_t g = g0; g < g1; g++) {                                                                \
        for (int64_t i = 0; i < t; i++) {                                                              \
            const ck_act *a = &x[i];                                                                   \
            __m512 acc = _mm512_setzero_ps();                                                          \
            for (int64_t b = 0; b < nb; b++) {                                                         \
                const uint8_t *p = (const uint8_t *)packed + (g * nb + b) * rec;                       \
                const int8_t *xh = a->hi + b * 32;                                                     \
                const int8_t *xl = SPLIT ? a->lo + b * 32 : NULL;                                      \
                __m512i hi = _mm512_setzero_si512(), lo = _mm512_setzero_si512();                     \
                if (type == CK_Q8_0) {                                                                 \
                    for (int c = 0; c < 8; c++) {                                                      \
                        __m512i w = _mm512_loadu_si512(p + 32 + c * 64);                               \
                        hi = _mm512_dpbusd_epi32(hi, w, bcast4(xh + 4 * c));                           \
                        if (SPLIT) lo = _mm512_dpbusd_epi32(lo, w, bcast4(xl + 4 * c));                \
                    }                                                                                  \
                } else {                                                                               \
                    const uint8_t *q = p + (type == CK_Q4_1 ? 64 : 32);                                \
                    for (int c = 0; c < 4; c++) {                                                      \
                        __m512i w = _mm512_loadu_si512(q + c * 64);                                    \
                        __m512i wl = _mm512_and_si512(w, nib);                                         \
                        __m512i wh = _mm512_and_si512(_mm512_srli_epi16(w, 4), nib);                   \
                        hi = _mm512_dpbusd_epi32(hi, wl, bcast4(xh + 4 * c));                          \
                        hi = _mm512_dpbusd_epi32(hi, wh, bcast4(xh + 16 + 4 * c));                     \
                        if (SPLIT) {                                                                   \
                            lo = _mm512_dpbusd_epi32(lo, wl, bcast4(xl + 4 * c));                      \
                            lo = _mm512_dpbusd_epi32(lo, wh, bcast4(xl + 16 + 4 * c));                 \
                        }                                                                              \
                    }                                                                                  \
                }                                                                                      \
                __m512i sum = SPLIT ? _mm512_add_epi32(_mm512_slli_epi32(hi, 7), lo) : hi;             \
                if (offset) sum = _mm512_sub_epi32(sum, _mm512_set1_epi32(offset * a->isum[b]));        \
                __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));                   \
                acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum), _mm512_mul_ps(dw, _mm512_set1_ps(a->d[b])), acc); \
                if (type == CK_Q4_1) {                                                                 \
                    __m512 m = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(p + 32)));         \
                    acc = _mm512_fmadd_ps(m, _mm512_set1_ps(a->s[b]), acc);                            \
                }                                                                                      \
            }                                                                                          \
            _mm512_storeu_ps(y + i * ldy + g * 16, acc);                                               \
        }                                                                                              \
    }                                                                                                  \
}

CK_PACKED_KERNEL(packed_matmul_int8, 0)
CK_PACKED_KERNEL(packed_matmul_split, 1)

void ck_packed_matmul(int type, const void *packed, int64_t k, int64_t g0, int64_t g1,
                      const ck_act *x, int64_t t, float *y, int64_t ldy) {
    if (!record_bytes(type)) ck_packed_matmul_k(type, packed, k, g0, g1, x, t, y, ldy);
    else if (!ck_has_avx512_vnni()) packed_matmul_generic(type, packed, k, g0, g1, x, t, y, ldy);
    else if (t > 0 && x[0].lo) packed_matmul_split(type, packed, k, g0, g1, x, t, y, ldy);
    else packed_matmul_int8(type, packed, k, g0, g1, x, t, y, ldy);
}
