// Float-activation dot products and row-block matmul over weights in their GGUF layout: a
// portable path and an AVX-512 path, chosen once per process (ck_has_avx512_vnni). Both
// compute the same sums in a different order. The integer paths live in packed.c.
#include "ColonyKernels.h"
#include "blocks.h"
#include <immintrin.h>
#include <math.h>
#include <stdlib.h>


static int g_force_generic = 0;
void ck_force_generic(int on) { g_force_generic = on; }

static int cpu_vnni(void) {
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
              && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq")
              && __builtin_cpu_supports("avx512vnni") && getenv("COLONY_NO_AVX512") == NULL;
    }
    return cached;
}

int ck_has_avx512_vnni(void) { return cpu_vnni() && !g_force_generic; }

// MARK: - Portable paths

static float dot_f32_generic(int type, const void *row, const float *x, int64_t k) {
    if (type == CK_F32) {
        const float *w = row; float s = 0;
        for (int64_t i = 0; i < k; i++) s += w[i] * x[i];
        return s;
    }
    float block[32];
    int64_t be = ck_block_elements(type), bb = ck_block_bytes(type);
    if (be == 1) { // F16/BF16: expand in chunks of 32
        float s = 0;
        for (int64_t i = 0; i < k; i += 32) {
            int64_t m = k - i < 32 ? k - i : 32;
            ck_dequantize_row(type, (const uint8_t *)row + i * bb, block, m);
            for (int64_t j = 0; j < m; j++) s += block[j] * x[i + j];
        }
        return s;
    }
    float wide[CK_QK], s = 0;
    for (int64_t i = 0; i < k; i += be) {
        ck_dequantize_row(type, (const uint8_t *)row + (i / be) * bb, wide, be);
        for (int64_t j = 0; j < be; j++) s += wide[j] * x[i + j];
    }
    return s;
}

// MARK: - AVX-512 paths

CK_AVX512 static inline float hsum512(__m512 v) { return _mm512_reduce_add_ps(v); }

CK_AVX512 static inline __m512 load16(int type, const void *row, int64_t i) {
    if (type == CK_F32) return _mm512_loadu_ps((const float *)row + i);
    __m256i h = _mm256_loadu_si256((const __m256i *)((const uint16_t *)row + i));
    if (type == CK_F16) return _mm512_cvtph_ps(h);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)); // BF16
}

CK_AVX512 static float dot_f32_avx512(int type, const void *row, const float *x, int64_t k) {
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    if (type == CK_F32 || type == CK_F16 || type == CK_BF16) {
        int64_t i = 0;
        for (; i + 32 <= k; i += 32) {
            acc0 = _mm512_fmadd_ps(load16(type, row, i), _mm512_loadu_ps(x + i), acc0);
            acc1 = _mm512_fmadd_ps(load16(type, row, i + 16), _mm512_loadu_ps(x + i + 16), acc1);
        }
        float s = hsum512(_mm512_add_ps(acc0, acc1));
        if (i < k) s += dot_f32_generic(type, (const uint8_t *)row + i * ck_block_bytes(type), x + i, k - i);
        return s;
    }
    if (type != CK_Q4_0 && type != CK_Q4_1 && type != CK_Q8_0) {
        // The other quants expand a block at a time: this is the float reference path, the
        // integer kernels of packed.c are the fast one.
        const int64_t be = ck_block_elements(type), bb = ck_block_bytes(type);
        float wide[CK_QK];
        for (int64_t i = 0; i < k; i += be) {
            ck_dequantize_row(type, (const uint8_t *)row + (i / be) * bb, wide, be);
            for (int64_t j = 0; j < be; j += 32) {
                acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(wide + j), _mm512_loadu_ps(x + i + j), acc0);
                acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(wide + j + 16), _mm512_loadu_ps(x + i + j + 16), acc1);
            }
        }
        return hsum512(_mm512_add_ps(acc0, acc1));
    }
    const __m128i lowmask = _mm_set1_epi8(0x0f);
    for (int64_t b = 0; b < k / 32; b++) {
        __m512 w0, w1;
        const float *xb = x + b * 32;
        if (type == CK_Q8_0) {
            const ck_block_q8_0 *p = (const ck_block_q8_0 *)row + b;
            __m512 d = _mm512_set1_ps(_cvtsh_ss(p->d));
            w0 = _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)p->qs))));
            w1 = _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(p->qs + 16)))));
        } else {
            const uint8_t *qs; float dv, mv;
            if (type == CK_Q4_1) {
                const ck_block_q4_1 *p = (const ck_block_q4_1 *)row + b;
                qs = p->qs; dv = _cvtsh_ss(p->d); mv = _cvtsh_ss(p->m);
            } else {
                const ck_block_q4_0 *p = (const ck_block_q4_0 *)row + b;
                qs = p->qs; dv = _cvtsh_ss(p->d); mv = -8 * dv;
            }
            __m128i a = _mm_loadu_si128((const __m128i *)qs);
            __m512 d = _mm512_set1_ps(dv), m = _mm512_set1_ps(mv);
            w0 = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_and_si128(a, lowmask))), m);
            w1 = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_and_si128(_mm_srli_epi16(a, 4), lowmask))), m);
        }
        acc0 = _mm512_fmadd_ps(w0, _mm512_loadu_ps(xb), acc0);
        acc1 = _mm512_fmadd_ps(w1, _mm512_loadu_ps(xb + 16), acc1);
    }
    return hsum512(_mm512_add_ps(acc0, acc1));
}

// MARK: - Dispatch

float ck_dot_f32(int type, const void *row, const float *x, int64_t k) {
    return ck_has_avx512_vnni() ? dot_f32_avx512(type, row, x, k) : dot_f32_generic(type, row, x, k);
}

void ck_matmul_rows(int type, const void *w, int64_t k, int64_t n0, int64_t n1,
                    const float *x, int64_t t, float *y, int64_t ldy) {
    const int64_t row_bytes = k / ck_block_elements(type) * ck_block_bytes(type);
    const int vnni = ck_has_avx512_vnni();
    // Row outer, token inner: a row stays in L1 while every token of the batch uses it.
    for (int64_t n = n0; n < n1; n++) {
        const void *row = (const uint8_t *)w + n * row_bytes;
        for (int64_t i = 0; i < t; i++)
            y[i * ldy + n] = vnni ? dot_f32_avx512(type, row, x + i * k, k) : dot_f32_generic(type, row, x + i * k, k);
    }
}

float ck_sum_floats(const float *x, int64_t n) {
#pragma clang fp reassociate(on)
    float s = 0; // reassociation lets the compiler keep many vector sums in flight
    for (int64_t i = 0; i < n; i++) s += x[i];
    return s;
}
