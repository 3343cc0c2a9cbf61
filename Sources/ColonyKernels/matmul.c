// Dot products and row-block matmul: a portable path and an AVX-512 VNNI path, chosen
// once per process (ck_has_avx512_vnni). Both compute the same sums in a different order.
//
// Fast path for quantised weights: activations are quantised to int8 per block of 32
// (ck_quantize_act) and blocks are multiplied as integers — the trade llama.cpp makes
// (≈1e-2 absolute error on a logit); the exact path keeps activations in float.
#include "ColonyKernels.h"
#include "blocks.h"
#include <immintrin.h>
#include <math.h>
#include <stdlib.h>

#define CK_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,f16c,fma")))

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

// MARK: - Activation quantisation

void ck_quantize_act(const float *x, int64_t k, ck_q8act out) {
    for (int64_t b = 0; b < k / 32; b++) {
        const float *xb = x + b * 32;
        float amax = 0;
        for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(xb[j]));
        float d = amax / 127, id = d != 0 ? 1.0f / d : 0;
        int sum = 0;
        for (int j = 0; j < 32; j++) {
            int q = (int)lrintf(xb[j] * id);
            out.q[b * 32 + j] = (int8_t)q;
            sum += q;
        }
        out.d[b] = d;
        out.s[b] = d * (float)sum;
    }
}

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
    float s = 0;
    for (int64_t i = 0; i < k; i += 32) {
        ck_dequantize_row(type, (const uint8_t *)row + (i / 32) * bb, block, 32);
        for (int j = 0; j < 32; j++) s += block[j] * x[i + j];
    }
    return s;
}

static float dot_q8_generic(int type, const void *row, const ck_q8act *x, int64_t k) {
    float s = 0;
    for (int64_t b = 0; b < k / 32; b++) {
        const int8_t *xq = x->q + b * 32;
        int sum = 0;
        if (type == CK_Q8_0) {
            const ck_block_q8_0 *w = (const ck_block_q8_0 *)row + b;
            for (int j = 0; j < 32; j++) sum += w->qs[j] * xq[j];
            s += ck_f16_to_f32(w->d) * x->d[b] * (float)sum;
        } else if (type == CK_Q4_0) {
            const ck_block_q4_0 *w = (const ck_block_q4_0 *)row + b;
            for (int j = 0; j < 16; j++) sum += (w->qs[j] & 0x0f) * xq[j] + (w->qs[j] >> 4) * xq[j + 16];
            float d = ck_f16_to_f32(w->d);
            s += d * (x->d[b] * (float)sum - 8 * x->s[b]);
        } else {
            const ck_block_q4_1 *w = (const ck_block_q4_1 *)row + b;
            for (int j = 0; j < 16; j++) sum += (w->qs[j] & 0x0f) * xq[j] + (w->qs[j] >> 4) * xq[j + 16];
            s += ck_f16_to_f32(w->d) * x->d[b] * (float)sum + ck_f16_to_f32(w->m) * x->s[b];
        }
    }
    return s;
}

// MARK: - AVX-512 paths

CK_AVX512 static inline float hsum512(__m512 v) { return _mm512_reduce_add_ps(v); }

CK_AVX512 static inline __m256i expand_q4(const uint8_t *qs) {
    __m128i a = _mm_loadu_si128((const __m128i *)qs);
    __m256i both = _mm256_set_m128i(_mm_srli_epi16(a, 4), a);
    return _mm256_and_si256(both, _mm256_set1_epi8(0x0f));
}

CK_AVX512 static float dot_q8_avx512(int type, const void *row, const ck_q8act *x, int64_t k) {
    const int64_t nb = k / 32;
    __m512 acc = _mm512_setzero_ps();
    float offset = 0; // the per-block offsets of Q4_0 (-8) and Q4_1 (m)
    int64_t b = 0;
    for (; b + 1 < nb; b += 2) {
        __m512i w, xv = _mm512_loadu_si512(x->q + b * 32);
        float d0, d1;
        if (type == CK_Q4_1) {
            const ck_block_q4_1 *p = (const ck_block_q4_1 *)row + b;
            w = _mm512_inserti64x4(_mm512_castsi256_si512(expand_q4(p[0].qs)), expand_q4(p[1].qs), 1);
            d0 = _cvtsh_ss(p[0].d); d1 = _cvtsh_ss(p[1].d);
            offset += _cvtsh_ss(p[0].m) * x->s[b] + _cvtsh_ss(p[1].m) * x->s[b + 1];
        } else if (type == CK_Q4_0) {
            const ck_block_q4_0 *p = (const ck_block_q4_0 *)row + b;
            w = _mm512_inserti64x4(_mm512_castsi256_si512(expand_q4(p[0].qs)), expand_q4(p[1].qs), 1);
            d0 = _cvtsh_ss(p[0].d); d1 = _cvtsh_ss(p[1].d);
            offset -= 8 * (d0 * x->s[b] + d1 * x->s[b + 1]);
        } else {
            const ck_block_q8_0 *p = (const ck_block_q8_0 *)row + b;
            __m512i ws = _mm512_inserti64x4(
                _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)p[0].qs)),
                _mm256_loadu_si256((const __m256i *)p[1].qs), 1);
            // dpbusd multiplies unsigned by signed: move the weight's sign onto x.
            __mmask64 neg = _mm512_movepi8_mask(ws);
            xv = _mm512_mask_sub_epi8(xv, neg, _mm512_setzero_si512(), xv);
            w = _mm512_abs_epi8(ws);
            d0 = _cvtsh_ss(p[0].d); d1 = _cvtsh_ss(p[1].d);
        }
        __m512i prod = _mm512_dpbusd_epi32(_mm512_setzero_si512(), w, xv);
        __m512 scale = _mm512_mask_blend_ps(0xff00, _mm512_set1_ps(d0 * x->d[b]),
                                            _mm512_set1_ps(d1 * x->d[b + 1]));
        acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(prod), scale, acc);
    }
    float s = hsum512(acc) + offset;
    if (b < nb) { // odd block count: finish the last block portably
        ck_q8act tail = { x->q + b * 32, x->d + b, x->s + b };
        s += dot_q8_generic(type, (const uint8_t *)row + b * ck_block_bytes(type), &tail, 32);
    }
    return s;
}

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

float ck_dot_q8(int type, const void *row, const ck_q8act *x, int64_t k) {
    return ck_has_avx512_vnni() ? dot_q8_avx512(type, row, x, k) : dot_q8_generic(type, row, x, k);
}

void ck_matmul_rows(int type, const void *w, int64_t k, int64_t n0, int64_t n1,
                    const float *x, const ck_q8act *xq, int64_t t, float *y, int64_t ldy) {
    const int64_t row_bytes = k / ck_block_elements(type) * ck_block_bytes(type);
    const int quantised = ck_block_elements(type) == 32 && xq != NULL;
    const int vnni = ck_has_avx512_vnni();
    // Row outer, token inner: a row stays in L1 while every token of the batch uses it.
    for (int64_t n = n0; n < n1; n++) {
        const void *row = (const uint8_t *)w + n * row_bytes;
        for (int64_t i = 0; i < t; i++) {
            float v;
            if (quantised) v = vnni ? dot_q8_avx512(type, row, &xq[i], k) : dot_q8_generic(type, row, &xq[i], k);
            else v = vnni ? dot_f32_avx512(type, row, x + i * k, k) : dot_f32_generic(type, row, x + i * k, k);
            y[i * ldy + n] = v;
        }
    }
}

float ck_sum_floats(const float *x, int64_t n) {
#pragma clang fp reassociate(on)
    float s = 0; // reassociation lets the compiler keep many vector sums in flight
    for (int64_t i = 0; i < n; i++) s += x[i];
    return s;
}
