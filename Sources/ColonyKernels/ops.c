// Element-wise kernels and attention. Plain loops that clang vectorises at -O3; float
// reductions may be reassociated (the order of a sum of 64..1536 terms is not part of
// any contract here, and the reference tests allow for it).
#include "ColonyKernels.h"
#include <math.h>

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

void ck_swiglu(const float *gate, const float *up, float *out, int64_t n) {
    for (int64_t i = 0; i < n; i++) out[i] = gate[i] / (1.0f + expf(-gate[i])) * up[i];
}

void ck_add(float *x, const float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] += y[i];
}

static inline float dot(const float *a, const float *b, int64_t n) {
#pragma clang fp reassociate(on)
    float s = 0;
    for (int64_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

void ck_attention_head(const float *q, ck_kv_layer kv, const int32_t *block_table,
                       int64_t n_ctx, int64_t kv_head, int64_t head_dim, float scale,
                       float *out) {
    float acc[256]; // head_dim <= 256, checked by the caller
    for (int64_t i = 0; i < head_dim; i++) acc[i] = 0;
    float m = -INFINITY, l = 0;
    for (int64_t p = 0; p < n_ctx; p++) {
        int64_t slot = (int64_t)block_table[p / kv.block_size] * kv.block_size + p % kv.block_size;
        const float *kp = kv.k + slot * kv.kv_dim + kv_head * head_dim;
        const float *vp = kv.v + slot * kv.kv_dim + kv_head * head_dim;
        float s = dot(q, kp, head_dim) * scale;
        if (s > m) { // new maximum: rescale what was summed so far
            float c = expf(m - s);
            l *= c;
            for (int64_t i = 0; i < head_dim; i++) acc[i] *= c;
            m = s;
        }
        float e = expf(s - m);
        l += e;
        for (int64_t i = 0; i < head_dim; i++) acc[i] += e * vp[i];
    }
    float inv = l > 0 ? 1.0f / l : 0;
    for (int64_t i = 0; i < head_dim; i++) out[i] = acc[i] * inv;
}
