// Block layouts, conversions, quantisation and the scalar reference dot product.
// Layouts as in GGML: Q4_0 {f16 d; u8 qs[16]}, Q4_1 {f16 d; f16 m; u8 qs[16]},
// Q8_0 {f16 d; i8 qs[32]}, Q5_0 {f16 d; u8 qh[4]; u8 qs[16]}, Q5_1 {f16 d; f16 m; u8 qh[4];
// u8 qs[16]}. Nibble j of a Q4/Q5 block holds element j (low) and j+16 (high); bit j of a
// Q5 block's qh is the fifth bit of element j. The K-quants live in kquant.c.
#include "ColonyKernels.h"
#include "blocks.h"
#include <math.h>
#include <string.h>

int64_t ck_block_elements(int type) {
    switch (type) {
    case CK_Q4_0: case CK_Q4_1: case CK_Q5_0: case CK_Q5_1: case CK_Q8_0: return 32;
    case CK_Q2_K: case CK_Q3_K: case CK_Q4_K: case CK_Q5_K: case CK_Q6_K: return CK_QK;
    default: return 1;
    }
}

int64_t ck_block_bytes(int type) {
    switch (type) {
    case CK_F32: return 4;
    case CK_F16: case CK_BF16: return 2;
    case CK_Q4_0: return sizeof(ck_block_q4_0);
    case CK_Q4_1: return sizeof(ck_block_q4_1);
    case CK_Q5_0: return sizeof(ck_block_q5_0);
    case CK_Q5_1: return sizeof(ck_block_q5_1);
    case CK_Q8_0: return sizeof(ck_block_q8_0);
    case CK_Q2_K: return sizeof(ck_block_q2_K);
    case CK_Q3_K: return sizeof(ck_block_q3_K);
    case CK_Q4_K: return sizeof(ck_block_q4_K);
    case CK_Q5_K: return sizeof(ck_block_q5_K);
    case CK_Q6_K: return sizeof(ck_block_q6_K);
    default: return 0;
    }
}

int ck_type_supported(int type) { return ck_block_bytes(type) != 0; }

int ck_quantizable(int type) { return ck_type_supported(type) && ck_block_elements(type) <= 32; }

// MARK: - Dequantise

void ck_dequantize_row(int type, const void *src, float *dst, int64_t n) {
    switch (type) {
    case CK_F32: memcpy(dst, src, (size_t)n * 4); return;
    case CK_F16: { const uint16_t *s = src; for (int64_t i = 0; i < n; i++) dst[i] = ck_f16_to_f32(s[i]); return; }
    case CK_BF16: { const uint16_t *s = src; for (int64_t i = 0; i < n; i++) dst[i] = ck_bf16_to_f32(s[i]); return; }
    case CK_Q4_0: {
        const ck_block_q4_0 *b = src;
        for (int64_t i = 0; i < n / 32; i++) {
            float d = ck_f16_to_f32(b[i].d);
            for (int j = 0; j < 16; j++) {
                dst[i * 32 + j] = d * ((b[i].qs[j] & 0x0f) - 8);
                dst[i * 32 + j + 16] = d * ((b[i].qs[j] >> 4) - 8);
            }
        }
        return;
    }
    case CK_Q4_1: {
        const ck_block_q4_1 *b = src;
        for (int64_t i = 0; i < n / 32; i++) {
            float d = ck_f16_to_f32(b[i].d), m = ck_f16_to_f32(b[i].m);
            for (int j = 0; j < 16; j++) {
                dst[i * 32 + j] = d * (b[i].qs[j] & 0x0f) + m;
                dst[i * 32 + j + 16] = d * (b[i].qs[j] >> 4) + m;
            }
        }
        return;
    }
    case CK_Q5_0: case CK_Q5_1: {
        const int64_t bb = ck_block_bytes(type);
        for (int64_t i = 0; i < n / 32; i++) {
            const uint8_t *blk = (const uint8_t *)src + i * bb;
            uint16_t dh, mh = 0;
            memcpy(&dh, blk, 2);
            if (type == CK_Q5_1) memcpy(&mh, blk + 2, 2);
            const uint8_t *qh8 = blk + (type == CK_Q5_1 ? 4 : 2), *qs = qh8 + 4;
            uint32_t qh;
            memcpy(&qh, qh8, 4);
            float d = ck_f16_to_f32(dh), m = ck_f16_to_f32(mh);
            int offset = type == CK_Q5_0 ? 16 : 0;
            for (int j = 0; j < 16; j++) {
                int x0 = ((qs[j] & 0x0f) | (((qh >> j) << 4) & 0x10)) - offset;
                int x1 = ((qs[j] >> 4) | ((qh >> (j + 12)) & 0x10)) - offset;
                if (type == CK_Q5_0) {
                    dst[i * 32 + j] = x0 * d;
                    dst[i * 32 + j + 16] = x1 * d;
                } else {
                    dst[i * 32 + j] = x0 * d + m;
                    dst[i * 32 + j + 16] = x1 * d + m;
                }
            }
        }
        return;
    }
    case CK_Q8_0: {
        const ck_block_q8_0 *b = src;
        for (int64_t i = 0; i < n / 32; i++) {
            float d = ck_f16_to_f32(b[i].d);
            for (int j = 0; j < 32; j++) dst[i * 32 + j] = d * b[i].qs[j];
        }
        return;
    }
    case CK_Q2_K: case CK_Q3_K: case CK_Q4_K: case CK_Q5_K: case CK_Q6_K: ck_dequantize_k(type, src, dst, n); return;
    }
}

// MARK: - Quantise (GGML's reference rounding)

/// Packs 32 five-bit quants: low nibbles in qs (element j and j+16 share byte j), fifth
/// bits in qh (bit j for element j).
static void store_q5(const int q[32], uint8_t qs[16], uint8_t qh8[4]) {
    uint32_t qh = 0;
    for (int j = 0; j < 16; j++) qs[j] = (uint8_t)((q[j] & 0x0f) | ((q[j + 16] & 0x0f) << 4));
    for (int j = 0; j < 32; j++) qh |= ((uint32_t)(q[j] >> 4) & 1) << j;
    memcpy(qh8, &qh, 4);
}

void ck_quantize_row(int type, const float *src, void *dst, int64_t n) {
    switch (type) {
    case CK_F32: memcpy(dst, src, (size_t)n * 4); return;
    case CK_F16: { uint16_t *d = dst; for (int64_t i = 0; i < n; i++) d[i] = ck_f32_to_f16(src[i]); return; }
    case CK_BF16: { uint16_t *d = dst; for (int64_t i = 0; i < n; i++) d[i] = ck_f32_to_bf16(src[i]); return; }
    case CK_Q4_0: {
        ck_block_q4_0 *b = dst;
        for (int64_t i = 0; i < n / 32; i++) {
            const float *x = src + i * 32;
            float amax = 0, max = 0;
            for (int j = 0; j < 32; j++) if (fabsf(x[j]) > amax) { amax = fabsf(x[j]); max = x[j]; }
            float d = max / -8, id = d != 0 ? 1.0f / d : 0;
            b[i].d = ck_f32_to_f16(d);
            for (int j = 0; j < 16; j++) {
                int lo = (int)(x[j] * id + 8.5f), hi = (int)(x[j + 16] * id + 8.5f);
                lo = lo > 15 ? 15 : lo; hi = hi > 15 ? 15 : hi;
                b[i].qs[j] = (uint8_t)(lo | (hi << 4));
            }
        }
        return;
    }
    case CK_Q4_1: {
        ck_block_q4_1 *b = dst;
        for (int64_t i = 0; i < n / 32; i++) {
            const float *x = src + i * 32;
            float mn = x[0], mx = x[0];
            for (int j = 1; j < 32; j++) { if (x[j] < mn) mn = x[j]; if (x[j] > mx) mx = x[j]; }
            float d = (mx - mn) / 15, id = d != 0 ? 1.0f / d : 0;
            b[i].d = ck_f32_to_f16(d);
            b[i].m = ck_f32_to_f16(mn);
            for (int j = 0; j < 16; j++) {
                int lo = (int)((x[j] - mn) * id + 0.5f), hi = (int)((x[j + 16] - mn) * id + 0.5f);
                lo = lo > 15 ? 15 : lo; hi = hi > 15 ? 15 : hi;
                b[i].qs[j] = (uint8_t)(lo | (hi << 4));
            }
        }
        return;
    }
    case CK_Q5_0: {
        ck_block_q5_0 *b = dst;
        for (int64_t i = 0; i < n / 32; i++) {
            const float *x = src + i * 32;
            float amax = 0, max = 0;
            for (int j = 0; j < 32; j++) if (fabsf(x[j]) > amax) { amax = fabsf(x[j]); max = x[j]; }
            float d = max / -16, id = d != 0 ? 1.0f / d : 0;
            b[i].d = ck_f32_to_f16(d);
            int q[32];
            for (int j = 0; j < 32; j++) { q[j] = (int)(x[j] * id + 16.5f); q[j] = q[j] > 31 ? 31 : q[j]; }
            store_q5(q, b[i].qs, b[i].qh);
        }
        return;
    }
    case CK_Q5_1: {
        ck_block_q5_1 *b = dst;
        for (int64_t i = 0; i < n / 32; i++) {
            const float *x = src + i * 32;
            float mn = x[0], mx = x[0];
            for (int j = 1; j < 32; j++) { if (x[j] < mn) mn = x[j]; if (x[j] > mx) mx = x[j]; }
            float d = (mx - mn) / 31, id = d != 0 ? 1.0f / d : 0;
            b[i].d = ck_f32_to_f16(d);
            b[i].m = ck_f32_to_f16(mn);
            int q[32];
            for (int j = 0; j < 32; j++) q[j] = (int)((x[j] - mn) * id + 0.5f);
            store_q5(q, b[i].qs, b[i].qh);
        }
        return;
    }
    case CK_Q8_0: {
        ck_block_q8_0 *b = dst;
        for (int64_t i = 0; i < n / 32; i++) {
            const float *x = src + i * 32;
            float amax = 0;
            for (int j = 0; j < 32; j++) if (fabsf(x[j]) > amax) amax = fabsf(x[j]);
            float d = amax / 127, id = d != 0 ? 1.0f / d : 0;
            b[i].d = ck_f32_to_f16(d);
            for (int j = 0; j < 32; j++) b[i].qs[j] = (int8_t)roundf(x[j] * id);
        }
        return;
    }
    }
}

// MARK: - Reference dot

double ck_ref_dot(int type, const void *row, const float *x, int64_t k) {
    float block[CK_QK];
    int64_t be = ck_block_elements(type), bb = ck_block_bytes(type);
    double sum = 0;
    for (int64_t i = 0; i < k; i += be) {
        ck_dequantize_row(type, (const uint8_t *)row + (i / be) * bb, block, be);
        for (int64_t j = 0; j < be; j++) sum += (double)block[j] * (double)x[i + j];
    }
    return sum;
}
