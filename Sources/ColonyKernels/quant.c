// Block layouts, conversions, quantisation and the scalar reference dot product.
// Layouts as in GGML: Q4_0 {f16 d; u8 qs[16]}, Q4_1 {f16 d; f16 m; u8 qs[16]},
// Q8_0 {f16 d; i8 qs[32]}. Nibble j of a Q4 block holds element j (low) and j+16 (high).
#include "ColonyKernels.h"
#include "blocks.h"
#include <math.h>
#include <string.h>

int64_t ck_block_elements(int type) {
    switch (type) {
    case CK_Q4_0: case CK_Q4_1: case CK_Q8_0: return 32;
    default: return 1;
    }
}

int64_t ck_block_bytes(int type) {
    switch (type) {
    case CK_F32: return 4;
    case CK_F16: case CK_BF16: return 2;
    case CK_Q4_0: return sizeof(ck_block_q4_0);
    case CK_Q4_1: return sizeof(ck_block_q4_1);
    case CK_Q8_0: return sizeof(ck_block_q8_0);
    default: return 0;
    }
}

int ck_type_supported(int type) { return ck_block_bytes(type) != 0; }

// MARK: - Scalar conversions (portable; IEEE half with subnormals, round to nearest even)

float ck_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0) {
        if (man == 0) { bits = sign; }
        else { // subnormal: value = man * 2^-24
            float f = (float)man * 5.9604644775390625e-8f;
            return (h & 0x8000) ? -f : f;
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 112) << 23) | (man << 13);
    }
    float f; memcpy(&f, &bits, 4); return f;
}

uint16_t ck_f32_to_f16(float f) {
    uint32_t x; memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t absx = x & 0x7fffffffu;
    if (absx >= 0x7f800000u) return (uint16_t)(sign | 0x7c00 | (absx > 0x7f800000u ? 0x200 : 0));
    if (absx >= 0x477ff000u) return (uint16_t)(sign | 0x7c00); // rounds to >= 65520: inf
    if (absx < 0x38800000u) { // below the smallest normal half: subnormal or zero
        float a; memcpy(&a, &absx, 4);
        uint32_t m = (uint32_t)lrintf(a * 16777216.0f); // units of 2^-24, nearest even
        return (uint16_t)(sign | m);
    }
    uint32_t mant = absx & 0x7fffff, exp = (absx >> 23) - 112;
    uint32_t h = (exp << 10) | (mant >> 13);
    uint32_t rest = mant & 0x1fff;
    if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) h++;
    return (uint16_t)(sign | h);
}

float ck_bf16_to_f32(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16; float f; memcpy(&f, &bits, 4); return f;
}

uint16_t ck_f32_to_bf16(float f) {
    uint32_t x; memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40); // quiet NaN
    x += 0x7fff + ((x >> 16) & 1);
    return (uint16_t)(x >> 16);
}

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
    case CK_Q8_0: {
        const ck_block_q8_0 *b = src;
        for (int64_t i = 0; i < n / 32; i++) {
            float d = ck_f16_to_f32(b[i].d);
            for (int j = 0; j < 32; j++) dst[i * 32 + j] = d * b[i].qs[j];
        }
        return;
    }
    }
}

// MARK: - Quantise (GGML's reference rounding)

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
    float block[32];
    int64_t be = ck_block_elements(type), bb = ck_block_bytes(type);
    double sum = 0;
    for (int64_t i = 0; i < k; i += be) {
        ck_dequantize_row(type, (const uint8_t *)row + (i / be) * bb, block, be);
        for (int64_t j = 0; j < be; j++) sum += (double)block[j] * (double)x[i + j];
    }
    return sum;
}
