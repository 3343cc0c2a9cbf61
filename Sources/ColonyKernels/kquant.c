// K-quant dequantisation: the scalar reference for Q2_K..Q6_K, written as GGML's
// dequantize_row_q*_K so that the float operations happen in the same order (the tests
// compare bit for bit with gguf-py's numpy port of the same code).
#include "ColonyKernels.h"
#include "blocks.h"

void ck_q3_k_scales(const uint8_t packed[12], int8_t out[16]) {
    const uint32_t kmask1 = 0x03030303, kmask2 = 0x0f0f0f0f;
    uint32_t aux[4];
    memcpy(aux, packed, 12);
    uint32_t tmp = aux[2];
    aux[2] = ((aux[0] >> 4) & kmask2) | (((tmp >> 4) & kmask1) << 4);
    aux[3] = ((aux[1] >> 4) & kmask2) | (((tmp >> 6) & kmask1) << 4);
    aux[0] = (aux[0] & kmask2) | (((tmp >> 0) & kmask1) << 4);
    aux[1] = (aux[1] & kmask2) | (((tmp >> 2) & kmask1) << 4);
    memcpy(out, aux, 16);
}

static void dequantize_q2_k(const ck_block_q2_K *x, float *y) {
    const float d = ck_f16_to_f32(x->d), min = ck_f16_to_f32(x->dmin);
    const uint8_t *q = x->qs;
    int is = 0;
    for (int n = 0; n < CK_QK; n += 128) {
        int shift = 0;
        for (int j = 0; j < 4; j++) {
            for (int half = 0; half < 2; half++) {
                uint8_t sc = x->scales[is++];
                float dl = d * (sc & 0xF), ml = min * (sc >> 4);
                for (int l = 0; l < 16; l++) *y++ = dl * (int8_t)((q[l + 16 * half] >> shift) & 3) - ml;
            }
            shift += 2;
        }
        q += 32;
    }
}

static void dequantize_q3_k(const ck_block_q3_K *x, float *y) {
    const float d_all = ck_f16_to_f32(x->d);
    int8_t scales[16];
    ck_q3_k_scales(x->scales, scales);
    const uint8_t *q = x->qs, *hm = x->hmask;
    uint8_t m = 1;
    int is = 0;
    for (int n = 0; n < CK_QK; n += 128) {
        int shift = 0;
        for (int j = 0; j < 4; j++) {
            for (int half = 0; half < 2; half++) {
                float dl = d_all * (scales[is++] - 32);
                for (int l = 16 * half; l < 16 * half + 16; l++)
                    *y++ = dl * ((int8_t)((q[l] >> shift) & 3) - ((hm[l] & m) ? 0 : 4));
            }
            shift += 2;
            m <<= 1;
        }
        q += 32;
    }
}

static void dequantize_q4_k(const ck_block_q4_K *x, float *y) {
    const float d = ck_f16_to_f32(x->d), min = ck_f16_to_f32(x->dmin);
    const uint8_t *q = x->qs;
    for (int j = 0, is = 0; j < CK_QK; j += 64, is += 2, q += 32) {
        uint8_t sc, m;
        ck_scale_min_k4(is, x->scales, &sc, &m);
        const float d1 = d * sc, m1 = min * m;
        ck_scale_min_k4(is + 1, x->scales, &sc, &m);
        const float d2 = d * sc, m2 = min * m;
        for (int l = 0; l < 32; l++) *y++ = d1 * (q[l] & 0xF) - m1;
        for (int l = 0; l < 32; l++) *y++ = d2 * (q[l] >> 4) - m2;
    }
}

static void dequantize_q5_k(const ck_block_q5_K *x, float *y) {
    const float d = ck_f16_to_f32(x->d), min = ck_f16_to_f32(x->dmin);
    const uint8_t *ql = x->qs, *qh = x->qh;
    uint8_t u1 = 1, u2 = 2;
    for (int j = 0, is = 0; j < CK_QK; j += 64, is += 2, ql += 32, u1 <<= 2, u2 <<= 2) {
        uint8_t sc, m;
        ck_scale_min_k4(is, x->scales, &sc, &m);
        const float d1 = d * sc, m1 = min * m;
        ck_scale_min_k4(is + 1, x->scales, &sc, &m);
        const float d2 = d * sc, m2 = min * m;
        for (int l = 0; l < 32; l++) *y++ = d1 * ((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
        for (int l = 0; l < 32; l++) *y++ = d2 * ((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
    }
}

static void dequantize_q6_k(const ck_block_q6_K *x, float *y) {
    const float d = ck_f16_to_f32(x->d);
    const uint8_t *ql = x->ql, *qh = x->qh;
    const int8_t *sc = x->scales;
    for (int n = 0; n < CK_QK; n += 128, y += 128, ql += 64, qh += 32, sc += 8) {
        for (int l = 0; l < 32; l++) {
            int is = l / 16;
            const int8_t q1 = (int8_t)((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
            const int8_t q2 = (int8_t)((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
            const int8_t q3 = (int8_t)((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
            const int8_t q4 = (int8_t)((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
            y[l] = d * sc[is] * q1;
            y[l + 32] = d * sc[is + 2] * q2;
            y[l + 64] = d * sc[is + 4] * q3;
            y[l + 96] = d * sc[is + 6] * q4;
        }
    }
}

void ck_dequantize_k(int type, const void *src, float *dst, int64_t n) {
    for (int64_t i = 0; i < n / CK_QK; i++, dst += CK_QK) {
        switch (type) {
        case CK_Q2_K: dequantize_q2_k((const ck_block_q2_K *)src + i, dst); break;
        case CK_Q3_K: dequantize_q3_k((const ck_block_q3_K *)src + i, dst); break;
        case CK_Q4_K: dequantize_q4_k((const ck_block_q4_K *)src + i, dst); break;
        case CK_Q5_K: dequantize_q5_k((const ck_block_q5_K *)src + i, dst); break;
        case CK_Q6_K: dequantize_q6_k((const ck_block_q6_K *)src + i, dst); break;
        }
    }
}
