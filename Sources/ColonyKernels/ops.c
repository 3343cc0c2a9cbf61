// Element-wise kernels and attention. Plain loops that clang vectorises at -O3; float
// reductions may be reassociated (the order of a sum of 64..1536 terms is not part of
// any contract here, and the reference tests allow for it).
#include "ColonyKernels.h"
#include "blocks.h"
#include <immintrin.h>
#include <math.h>
#include <string.h>

void ck_rmsnorm(const float *x, const float *w, float *out, int64_t n, float eps) {
#pragma clang fp reassociate(on)
    float ss = 0;
    for (int64_t i = 0; i < n; i++) ss += x[i] * x[i];
    float inv = 1.0f / sqrtf(ss / (float)n + eps);
    for (int64_t i = 0; i < n; i++) out[i] = x[i] * inv * w[i];
}

void ck_rope(float *x, int64_t heads, int64_t head_dim, int64_t rot_dim,
             const float *cos_tab, const float *sin_tab) {
    for (int64_t h = 0; h < heads; h++) {
        float *v = x + h * head_dim;
        for (int64_t i = 0; i < rot_dim / 2; i++) {
            float a = v[2 * i], b = v[2 * i + 1], c = cos_tab[i], s = sin_tab[i];
            v[2 * i] = a * c - b * s;
            v[2 * i + 1] = a * s + b * c;
        }
    }
}

void ck_rope_neox(float *x, int64_t heads, int64_t head_dim, int64_t rot_dim,
                  const float *cos_tab, const float *sin_tab) {
    const int64_t half = rot_dim / 2;
    for (int64_t h = 0; h < heads; h++) {
        float *v = x + h * head_dim;
        for (int64_t i = 0; i < half; i++) {
            float a = v[i], b = v[i + half], c = cos_tab[i], s = sin_tab[i];
            v[i] = a * c - b * s;
            v[i + half] = a * s + b * c;
        }
    }
}

void ck_swiglu(const float *gate, const float *up, float *out, int64_t n) {
    for (int64_t i = 0; i < n; i++) out[i] = gate[i] / (1.0f + expf(-gate[i])) * up[i];
}

void ck_geglu(const float *gate, const float *up, float *out, int64_t n) {
    const float k = 0.7978845608028654f; // sqrt(2 / pi)
    for (int64_t i = 0; i < n; i++) {
        float g = gate[i];
        out[i] = 0.5f * g * (1.0f + tanhf(k * (g + 0.044715f * g * g * g))) * up[i];
    }
}

void ck_softcap(float *x, int64_t n, float cap) {
    for (int64_t i = 0; i < n; i++) x[i] = cap * tanhf(x[i] / cap);
}

void ck_kv_store(void *dst, int f16, int64_t offset, const float *src, int64_t n) {
    if (f16) {
        uint16_t *d = (uint16_t *)dst + offset;
        for (int64_t i = 0; i < n; i++) d[i] = ck_f32_to_f16(src[i]);
    } else {
        memcpy((float *)dst + offset, src, (size_t)n * 4);
    }
}

void ck_add(float *x, const float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] += y[i];
}

/// Key or value `i` of a cache row as a float.
static inline float kv_at(const void *row, int f16, int64_t i) {
    return f16 ? ck_f16_to_f32(((const uint16_t *)row)[i]) : ((const float *)row)[i];
}

static void attention_head_generic(const float *q, ck_kv_layer kv, const int32_t *block_table,
                                   int64_t n_ctx, int64_t kv_head, int64_t head_dim, ck_attn_params params,
                                   float *out) {
    float acc[256]; // head_dim <= 256, checked by the caller
    for (int64_t i = 0; i < head_dim; i++) acc[i] = 0;
    float m = -INFINITY, l = 0;
    const int64_t width = kv.f16 ? 2 : 4;
    // Block and offset advance with p: a division per position costs more than the dot.
    int64_t block = params.start / kv.block_size, offset = params.start % kv.block_size;
    for (int64_t p = params.start; p < n_ctx; p++) {
        int64_t slot = (int64_t)block_table[block] * kv.block_size + offset;
        if (++offset == kv.block_size) { offset = 0; block++; }
        const uint8_t *kp = (const uint8_t *)kv.k + (slot * kv.kv_dim + kv_head * head_dim) * width;
        const uint8_t *vp = (const uint8_t *)kv.v + (slot * kv.kv_dim + kv_head * head_dim) * width;
        float s = 0;
        for (int64_t i = 0; i < head_dim; i++) s += q[i] * kv_at(kp, kv.f16, i);
        s *= params.scale;
        if (params.softcap > 0) s = params.softcap * tanhf(s / params.softcap);
        if (s > m) { // new maximum: rescale what was summed so far
            float c = expf(m - s);
            l *= c;
            for (int64_t i = 0; i < head_dim; i++) acc[i] *= c;
            m = s;
        }
        float e = expf(s - m);
        l += e;
        for (int64_t i = 0; i < head_dim; i++) acc[i] += e * kv_at(vp, kv.f16, i);
    }
    float inv = l > 0 ? 1.0f / l : 0;
    for (int64_t i = 0; i < head_dim; i++) out[i] = acc[i] * inv;
}

// MARK: - AVX-512 attention

/// e^x for x ≤ 0: 2^n · p(r) with n = round(x·log2 e), r = x − n·ln 2 (two-part ln 2) and
/// p the degree-6 Taylor polynomial; relative error < 1e-6 on |r| ≤ ln2/2.
CK_AVX512 static inline __m512 exp512(__m512 x) {
    x = _mm512_max_ps(x, _mm512_set1_ps(-87.0f));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428606765330187e-06f), r);
    __m512 p = _mm512_set1_ps(1.0f / 720);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

/// Positions are taken in chunks of 64: all scores of a chunk first, one rescale of the
/// running sum per chunk, exponentials 16 at a time. `nv` = head_dim / 16; inlined with a
/// constant `nv` the query and accumulator vectors stay in registers.
/// 16 keys or values from a cache row of floats or f16.
CK_AVX512 static inline __m512 kv16(const void *row, int f16, int64_t i) {
    return f16 ? _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)((const uint16_t *)row + i)))
               : _mm512_loadu_ps((const float *)row + i);
}

CK_AVX512 static inline __attribute__((always_inline))
void attention_core(const float *q, ck_kv_layer kv, const int32_t *block_table, int64_t n_ctx,
                    int64_t kv_head, int64_t head_dim, ck_attn_params params, float *out, const int64_t nv,
                    const int f16) {
    __m512 qv[16], acc[16];
    for (int64_t j = 0; j < nv; j++) { qv[j] = _mm512_loadu_ps(q + 16 * j); acc[j] = _mm512_setzero_ps(); }
    float scores[64];
    const uint8_t *rows_k[64], *rows_v[64];
    const int64_t width = f16 ? 2 : 4;
    float m = -INFINITY, l = 0;
    // Block and offset of the next position, advanced without dividing.
    int64_t block = params.start / kv.block_size, offset = params.start % kv.block_size;
    for (int64_t p0 = params.start; p0 < n_ctx; p0 += 64) {
        int64_t n = n_ctx - p0 < 64 ? n_ctx - p0 : 64;
        float chunk_max = -INFINITY;
        for (int64_t i = 0; i < n; i++) {
            int64_t slot = (int64_t)block_table[block] * kv.block_size + offset;
            if (++offset == kv.block_size) { offset = 0; block++; }
            rows_k[i] = (const uint8_t *)kv.k + (slot * kv.kv_dim + kv_head * head_dim) * width;
            rows_v[i] = (const uint8_t *)kv.v + (slot * kv.kv_dim + kv_head * head_dim) * width;
            __m512 d = _mm512_mul_ps(qv[0], kv16(rows_k[i], f16, 0));
            for (int64_t j = 1; j < nv; j++) d = _mm512_fmadd_ps(qv[j], kv16(rows_k[i], f16, 16 * j), d);
            scores[i] = _mm512_reduce_add_ps(d) * params.scale;
            if (params.softcap > 0) scores[i] = params.softcap * tanhf(scores[i] / params.softcap);
            chunk_max = fmaxf(chunk_max, scores[i]);
        }
        if (chunk_max > m) { // new maximum: rescale what was summed so far
            float c = expf(m - chunk_max);
            l *= c;
            for (int64_t j = 0; j < nv; j++) acc[j] = _mm512_mul_ps(acc[j], _mm512_set1_ps(c));
            m = chunk_max;
        }
        __m512 lsum = _mm512_setzero_ps();
        for (int64_t i = 0; i < n; i += 16) {
            __mmask16 live = n - i >= 16 ? 0xffff : (__mmask16)((1u << (n - i)) - 1);
            __m512 e = exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(live, scores + i), _mm512_set1_ps(m)));
            e = _mm512_maskz_mov_ps(live, e);
            lsum = _mm512_add_ps(lsum, e);
            _mm512_mask_storeu_ps(scores + i, live, e);
        }
        l += _mm512_reduce_add_ps(lsum);
        for (int64_t i = 0; i < n; i++) {
            __m512 e = _mm512_set1_ps(scores[i]);
            for (int64_t j = 0; j < nv; j++) acc[j] = _mm512_fmadd_ps(e, kv16(rows_v[i], f16, 16 * j), acc[j]);
        }
    }
    __m512 inv = _mm512_set1_ps(l > 0 ? 1.0f / l : 0);
    for (int64_t j = 0; j < nv; j++) _mm512_storeu_ps(out + 16 * j, _mm512_mul_ps(acc[j], inv));
}

CK_AVX512 static void attention_head_avx512(const float *q, ck_kv_layer kv, const int32_t *block_table,
                                            int64_t n_ctx, int64_t kv_head, int64_t head_dim, ck_attn_params params,
                                            float *out) {
    // The common head sizes get their own register allocation, for each cache type.
    if (kv.f16) {
        switch (head_dim) {
        case 64: attention_core(q, kv, block_table, n_ctx, kv_head, head_dim, params, out, 4, 1); break;
        case 128: attention_core(q, kv, block_table, n_ctx, kv_head, head_dim, params, out, 8, 1); break;
        default: attention_core(q, kv, block_table, n_ctx, kv_head, head_dim, params, out, head_dim / 16, 1); break;
        }
    } else {
        switch (head_dim) {
        case 64: attention_core(q, kv, block_table, n_ctx, kv_head, head_dim, params, out, 4, 0); break;
        case 128: attention_core(q, kv, block_table, n_ctx, kv_head, head_dim, params, out, 8, 0); break;
        default: attention_core(q, kv, block_table, n_ctx, kv_head, head_dim, params, out, head_dim / 16, 0); break;
        }
    }
}

void ck_attention_head(const float *q, ck_kv_layer kv, const int32_t *block_table,
                       int64_t n_ctx, int64_t kv_head, int64_t head_dim, ck_attn_params params,
                       float *out) {
    if (ck_has_avx512_vnni() && head_dim % 16 == 0)
        attention_head_avx512(q, kv, block_table, n_ctx, kv_head, head_dim, params, out);
    else
        attention_head_generic(q, kv, block_table, n_ctx, kv_head, head_dim, params, out);
}
