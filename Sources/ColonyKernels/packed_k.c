// Integer matmul over packed Q5_0, Q5_1 and K-quant (Q2_K..Q6_K) matrices.
//
// The same idea as packed.c: 16 rows are interleaved so that one 64-byte vector holds 4
// columns (a "chunk") of all 16 rows, one VPDPBUSD per chunk. Each row's quants are first
// turned into unsigned values u (0..2^bits-1), then split over up to three bit planes,
// per block of 32 columns (chunk c = columns 4c..4c+3, lane r·4+j = row r, column 4c+j):
//   nibbles  u8 [4][64]: vector c%4, low nibble for chunks 0..3, high nibble for 4..7
//   crumbs   u8 [2][64]: vector c/4, bits 2(c%4)..2(c%4)+1
//   masks    u64 [8]   : mask c, bit r·4+j
// and each type uses the planes its bits need (low bits first):
//   Q4_K nibbles | Q5_0, Q5_1, Q5_K nibbles + mask | Q6_K nibbles + crumbs |
//   Q3_K crumbs + mask | Q2_K crumbs.
// The per-row scales come first in each record, widened to whole bytes (6-bit K scales
// become u8/i8) so the kernel converts them with one instruction. Records:
//   Q5_0: u16 d[16]                                  | 32 cols: mask, nibbles (352 B)
//   Q5_1: u16 d[16] m[16]                            | 32 cols: mask, nibbles (384 B)
//   Q4_K: u16 d[16] dmin[16], u8 sc[8][16] mn[8][16] | 8×32 cols: nibbles     (2368 B)
//   Q5_K: as Q4_K                                    | 8×32 cols: mask, nibbles (2880 B)
//   Q6_K: u16 d[16], i8 sc[16][16]                   | 8×32 cols: nibbles, crumbs (3360 B)
//   Q3_K: u16 d[16], i8 sc[16][16] (scale - 32)      | 8×32 cols: crumbs, mask (1824 B)
//   Q2_K: u16 d[16] dmin[16], u8 scm[16][16]         | 8×32 cols: crumbs (1344 B)
// Q5_0/Q5_1 and Q2_K/Q6_K keep their GGUF size exactly; Q3_K, Q4_K and Q5_K grow by 2–4%.
//
// Weights per type, u the unsigned quant, sc/mn per 32 (Q4_K, Q5_K) or 16 (the others)
// columns: Q5_0 d(u−16), Q5_1 d·u+m, Q4_K/Q5_K d·sc·u − dmin·mn, Q6_K d·sc(u−32),
// Q3_K d·sc(u−4), Q2_K d·(scm&15)·u − dmin·(scm>>4). Offsets are folded with the
// activation block sums (isum, isum16), as in packed.c.
#include "ColonyKernels.h"
#include "blocks.h"
#include <immintrin.h>
#include <string.h>

static int is_k(int type) { return ck_block_elements(type) == CK_QK; }
/// Sub-blocks of 16 columns (two scales per 32-column block).
static int is_sub16(int type) { return type == CK_Q2_K || type == CK_Q3_K || type == CK_Q6_K; }
static int has_nibbles(int type) { return type != CK_Q2_K && type != CK_Q3_K; }
static int has_crumbs(int type) { return type == CK_Q2_K || type == CK_Q3_K || type == CK_Q6_K; }
static int has_mask(int type) { return type == CK_Q5_0 || type == CK_Q5_1 || type == CK_Q5_K || type == CK_Q3_K; }

static int64_t header_bytes(int type) {
    switch (type) {
    case CK_Q5_0: return 32;
    case CK_Q5_1: return 64;
    case CK_Q4_K: case CK_Q5_K: return 64 + 256;
    case CK_Q6_K: case CK_Q3_K: return 32 + 256;
    case CK_Q2_K: return 64 + 256;
    default: return 0;
    }
}

/// Bytes of one 32-column block's planes.
static int64_t planes_bytes(int type) {
    return (has_mask(type) ? 64 : 0) + (has_nibbles(type) ? 256 : 0) + (has_crumbs(type) ? 128 : 0);
}

int64_t ck_k_record_bytes(int type) {
    if (header_bytes(type) == 0) return 0;
    return header_bytes(type) + (ck_block_elements(type) / 32) * planes_bytes(type);
}

/// Plane offsets within a block's planes: mask, then nibbles, then crumbs.
static int64_t nibbles_at(int type) { return has_mask(type) ? 64 : 0; }
static int64_t crumbs_at(int type) { return nibbles_at(type) + (has_nibbles(type) ? 256 : 0); }

// MARK: - Packing

/// The unsigned quants of one GGUF block and its per-row scale data, in the record's terms.
typedef struct {
    uint8_t u[CK_QK];
    uint16_t d, m;           // d and dmin (or Q5_1's m), as f16 bits
    uint8_t sc[16], mn[16];  // per sub-block (8 of 32 or 16 of 16 columns); Q2_K: scm in sc
} unpacked_block;

static void unpack_block(int type, const uint8_t *blk, unpacked_block *o) {
    memset(o, 0, sizeof *o);
    switch (type) {
    case CK_Q5_0: case CK_Q5_1: {
        memcpy(&o->d, blk, 2);
        if (type == CK_Q5_1) memcpy(&o->m, blk + 2, 2);
        const uint8_t *qh8 = blk + (type == CK_Q5_1 ? 4 : 2), *qs = qh8 + 4;
        uint32_t qh;
        memcpy(&qh, qh8, 4);
        for (int j = 0; j < 16; j++) {
            o->u[j] = (uint8_t)((qs[j] & 0x0f) | (((qh >> j) & 1) << 4));
            o->u[j + 16] = (uint8_t)((qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4));
        }
        return;
    }
    case CK_Q4_K: case CK_Q5_K: {
        const ck_block_q4_K *q4 = (const ck_block_q4_K *)blk;
        const ck_block_q5_K *q5 = (const ck_block_q5_K *)blk;
        const uint8_t *scales = type == CK_Q4_K ? q4->scales : q5->scales;
        const uint8_t *qs = type == CK_Q4_K ? q4->qs : q5->qs;
        o->d = q4->d;
        o->m = q4->dmin;
        for (int s = 0; s < 8; s++) ck_scale_min_k4(s, scales, &o->sc[s], &o->mn[s]);
        for (int e = 0; e < CK_QK; e++) {
            int p = e / 64, l = e % 64;
            uint8_t byte = qs[32 * p + l % 32];
            o->u[e] = l < 32 ? byte & 0x0f : byte >> 4;
            if (type == CK_Q5_K && (q5->qh[l % 32] >> (2 * p + l / 32)) & 1) o->u[e] += 16;
        }
        return;
    }
    case CK_Q6_K: {
        const ck_block_q6_K *q = (const ck_block_q6_K *)blk;
        o->d = q->d;
        memcpy(o->sc, q->scales, 16);
        for (int n = 0; n < 2; n++) {
            const uint8_t *ql = q->ql + 64 * n, *qh = q->qh + 32 * n;
            for (int l = 0; l < 32; l++) {
                o->u[128 * n + l] = (uint8_t)((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4));
                o->u[128 * n + l + 32] = (uint8_t)((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4));
                o->u[128 * n + l + 64] = (uint8_t)((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4));
                o->u[128 * n + l + 96] = (uint8_t)((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4));
            }
        }
        return;
    }
    case CK_Q3_K: {
        const ck_block_q3_K *q = (const ck_block_q3_K *)blk;
        o->d = q->d;
        int8_t scales[16];
        ck_q3_k_scales(q->scales, scales);
        for (int s = 0; s < 16; s++) o->sc[s] = (uint8_t)(int8_t)(scales[s] - 32);
        for (int e = 0; e < CK_QK; e++) {
            int n = e / 128, j = (e % 128) / 32, l = e % 32;
            int low = (q->qs[32 * n + l] >> (2 * j)) & 3;
            o->u[e] = (uint8_t)(low | (((q->hmask[l] >> (4 * n + j)) & 1) << 2));
        }
        return;
    }
    case CK_Q2_K: {
        const ck_block_q2_K *q = (const ck_block_q2_K *)blk;
        o->d = q->d;
        o->m = q->dmin;
        memcpy(o->sc, q->scales, 16);
        for (int e = 0; e < CK_QK; e++) {
            int n = e / 128, j = (e % 128) / 32, l = e % 32;
            o->u[e] = (q->qs[32 * n + l] >> (2 * j)) & 3;
        }
        return;
    }
    }
}

void ck_pack_k(int type, const void *src, void *dst, int64_t n, int64_t k) {
    const int64_t be = ck_block_elements(type), nsb = k / be, bb = ck_block_bytes(type);
    const int64_t rec = ck_k_record_bytes(type), hb = header_bytes(type), pb = planes_bytes(type);
    const int subs = is_sub16(type) ? 16 : 8;
    unpacked_block rows[16];
    for (int64_t g = 0; g < n / 16; g++) {
        for (int64_t s = 0; s < nsb; s++) {
            uint8_t *out = (uint8_t *)dst + (g * nsb + s) * rec;
            memset(out, 0, (size_t)rec);
            for (int r = 0; r < 16; r++) unpack_block(type, (const uint8_t *)src + ((g * 16 + r) * nsb + s) * bb, &rows[r]);
            uint16_t *d = (uint16_t *)out;
            for (int r = 0; r < 16; r++) {
                d[r] = rows[r].d;
                if (type == CK_Q5_1 || type == CK_Q4_K || type == CK_Q5_K || type == CK_Q2_K) d[16 + r] = rows[r].m;
            }
            if (is_k(type)) {
                uint8_t *scales = out + (type == CK_Q6_K || type == CK_Q3_K ? 32 : 64);
                for (int sub = 0; sub < subs; sub++)
                    for (int r = 0; r < 16; r++) {
                        scales[sub * 16 + r] = rows[r].sc[sub];
                        if (type == CK_Q4_K || type == CK_Q5_K) scales[128 + sub * 16 + r] = rows[r].mn[sub];
                    }
            }
            for (int64_t b = 0; b < be / 32; b++) {
                uint8_t *planes = out + hb + b * pb;
                for (int r = 0; r < 16; r++) {
                    for (int col = 0; col < 32; col++) {
                        uint8_t u = rows[r].u[b * 32 + col];
                        int c = col / 4, lane = r * 4 + col % 4;
                        uint8_t low = u, rest = 0;
                        if (has_nibbles(type)) {
                            planes[nibbles_at(type) + (c % 4) * 64 + lane] |= (uint8_t)((u & 0x0f) << (c < 4 ? 0 : 4));
                            low = u >> 4;
                        }
                        if (has_crumbs(type)) {
                            planes[crumbs_at(type) + (c / 4) * 64 + lane] |= (uint8_t)((low & 3) << (2 * (c % 4)));
                            rest = low >> 2;
                        } else {
                            rest = low;
                        }
                        if (has_mask(type) && (rest & 1)) {
                            uint64_t mask;
                            memcpy(&mask, planes + c * 8, 8);
                            mask |= (uint64_t)1 << lane;
                            memcpy(planes + c * 8, &mask, 8);
                        }
                    }
                }
            }
        }
    }
}

// MARK: - Portable path

/// The unsigned quant of row r, column col (0..31) of a block's planes.
static int32_t plane_quant(int type, const uint8_t *planes, int r, int col) {
    int c = col / 4, lane = r * 4 + col % 4, bits = 0;
    int32_t u = 0;
    if (has_nibbles(type)) {
        u = (planes[nibbles_at(type) + (c % 4) * 64 + lane] >> (c < 4 ? 0 : 4)) & 0x0f;
        bits = 4;
    }
    if (has_crumbs(type)) {
        u |= ((planes[crumbs_at(type) + (c / 4) * 64 + lane] >> (2 * (c % 4))) & 3) << bits;
        bits += 2;
    }
    if (has_mask(type)) {
        uint64_t mask;
        memcpy(&mask, planes + c * 8, 8);
        u |= (int32_t)((mask >> lane) & 1) << bits;
    }
    return u;
}

static void packed_matmul_k_generic(int type, const void *packed, int64_t k, int64_t g0, int64_t g1,
                                    const ck_act *x, int64_t t, float *y, int64_t ldy) {
    const int64_t be = ck_block_elements(type), nsb = k / be, rec = ck_k_record_bytes(type);
    const int64_t hb = header_bytes(type), pb = planes_bytes(type);
    const int32_t offset = type == CK_Q5_0 ? 16 : type == CK_Q6_K ? 32 : type == CK_Q3_K ? 4 : 0;
    for (int64_t g = g0; g < g1; g++) {
        for (int64_t i = 0; i < t; i++) {
            const ck_act *a = &x[i];
            for (int r = 0; r < 16; r++) {
                float acc = 0;
                for (int64_t s = 0; s < nsb; s++) {
                    const uint8_t *p = (const uint8_t *)packed + (g * nsb + s) * rec;
                    const uint16_t *dh = (const uint16_t *)p;
                    const float d = ck_f16_to_f32(dh[r]), m = ck_f16_to_f32(dh[16 + r]);
                    const uint8_t *scales = p + (type == CK_Q6_K || type == CK_Q3_K ? 32 : 64);
                    for (int64_t b = 0; b < be / 32; b++) {
                        const int64_t blk = s * (be / 32) + b;
                        int32_t dots[2] = {0, 0};
                        for (int col = 0; col < 32; col++) {
                            int32_t v = a->hi[blk * 32 + col];
                            if (a->lo) v = v * 128 + a->lo[blk * 32 + col];
                            dots[col / 16] += plane_quant(type, p + hb + b * pb, r, col) * v;
                        }
                        const float dx = a->d[blk];
                        switch (type) {
                        case CK_Q5_0: acc += d * dx * (float)(dots[0] + dots[1] - offset * a->isum[blk]); break;
                        case CK_Q5_1: acc += d * dx * (float)(dots[0] + dots[1]) + m * a->s[blk]; break;
                        case CK_Q4_K: case CK_Q5_K:
                            acc += d * scales[b * 16 + r] * dx * (float)(dots[0] + dots[1]) - m * scales[128 + b * 16 + r] * a->s[blk];
                            break;
                        case CK_Q6_K: case CK_Q3_K: {
                            float sum = 0;
                            for (int h = 0; h < 2; h++)
                                sum += (float)(dots[h] - offset * a->isum16[2 * blk + h]) * (int8_t)scales[(2 * b + h) * 16 + r];
                            acc += d * dx * sum;
                            break;
                        }
                        case CK_Q2_K: {
                            float sum = 0, mins = 0;
                            for (int h = 0; h < 2; h++) {
                                uint8_t scm = scales[(2 * b + h) * 16 + r];
                                sum += (float)dots[h] * (scm & 15);
                                mins += (float)a->isum16[2 * blk + h] * (scm >> 4);
                            }
                            acc += d * dx * sum - m * dx * mins;
                            break;
                        }
                        }
                    }
                }
                y[i * ldy + g * 16 + r] = acc;
            }
        }
    }
}

// MARK: - AVX-512 VNNI path

CK_AVX512 static inline __m512i bcast4k(const int8_t *p) { int32_t v; memcpy(&v, p, 4); return _mm512_set1_epi32(v); }

/// The 64 unsigned quants of chunk c (16 rows × 4 columns) of a block's planes.
CK_AVX512 static inline __attribute__((always_inline)) __m512i chunk_quants(int type, const uint8_t *planes, int c) {
    const __m512i nib = _mm512_set1_epi8(0x0f);
    __m512i u;
    if (has_nibbles(type)) {
        __m512i v = _mm512_loadu_si512(planes + nibbles_at(type) + (c % 4) * 64);
        u = _mm512_and_si512(c < 4 ? v : _mm512_srli_epi16(v, 4), nib);
        if (has_crumbs(type)) { // Q6_K: bits 4-5 from the crumbs
            __m512i cr = _mm512_loadu_si512(planes + crumbs_at(type) + (c / 4) * 64);
            const int s = c % 4;
            cr = s == 0 ? _mm512_slli_epi16(cr, 4) : s == 1 ? _mm512_slli_epi16(cr, 2) : s == 2 ? cr : _mm512_srli_epi16(cr, 2);
            u = _mm512_or_si512(u, _mm512_and_si512(cr, _mm512_set1_epi8(0x30)));
        }
    } else {
        __m512i cr = _mm512_loadu_si512(planes + crumbs_at(type) + (c / 4) * 64);
        const int s = c % 4;
        u = _mm512_and_si512(s == 0 ? cr : _mm512_srli_epi16(cr, 2 * s), _mm512_set1_epi8(3));
    }
    if (has_mask(type)) {
        uint64_t bits;
        memcpy(&bits, planes + c * 8, 8);
        u = _mm512_mask_add_epi8(u, _cvtu64_mask64(bits), u, _mm512_set1_epi8(type == CK_Q3_K ? 4 : 16));
    }
    return u;
}

/// Integer dot products of one block (32 columns, 16 rows, its 8 chunks expanded in `w`)
/// with one token, as two halves of 16 columns each (summed by the types with one scale
/// per 32 columns).
CK_AVX512 static inline __attribute__((always_inline))
void block_dots(int split, const __m512i w[8], const int8_t *xh, const int8_t *xl, __m512i out[2]) {
    for (int h = 0; h < 2; h++) {
        __m512i hi = _mm512_setzero_si512(), lo = _mm512_setzero_si512();
        for (int c = 4 * h; c < 4 * h + 4; c++) {
            hi = _mm512_dpbusd_epi32(hi, w[c], bcast4k(xh + 4 * c));
            if (split) lo = _mm512_dpbusd_epi32(lo, w[c], bcast4k(xl + 4 * c));
        }
        out[h] = split ? _mm512_add_epi32(_mm512_slli_epi32(hi, 7), lo) : hi;
    }
}

CK_AVX512 static inline __m512 scales_u8(const uint8_t *p) { return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)p))); }
CK_AVX512 static inline __m512 scales_i8(const uint8_t *p) { return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)p))); }

/// Tokens per pass over a group: each block's quants are expanded once for all of them.
#define CK_K_TILE 4

CK_AVX512 static inline __attribute__((always_inline))
void packed_k_avx512(const int type, const int split, const void *packed, int64_t k, int64_t g0, int64_t g1,
                     const ck_act *x, int64_t t, float *y, int64_t ldy) {
    const int64_t be = ck_block_elements(type), nsb = k / be, rec = ck_k_record_bytes(type);
    const int64_t hb = header_bytes(type), pb = planes_bytes(type);
    const __m512i lown = _mm512_set1_epi32(15);
    for (int64_t g = g0; g < g1; g++) {
        for (int64_t i0 = 0; i0 < t; i0 += CK_K_TILE) {
            const int64_t nt = t - i0 < CK_K_TILE ? t - i0 : CK_K_TILE;
            __m512 acc[CK_K_TILE];
            for (int64_t j = 0; j < CK_K_TILE; j++) acc[j] = _mm512_setzero_ps();
            for (int64_t s = 0; s < nsb; s++) {
                const uint8_t *p = (const uint8_t *)packed + (g * nsb + s) * rec;
                const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));
                __m512 m = _mm512_setzero_ps();
                if (type == CK_Q5_1 || type == CK_Q4_K || type == CK_Q5_K || type == CK_Q2_K)
                    m = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(p + 32)));
                const uint8_t *scales = p + (type == CK_Q6_K || type == CK_Q3_K ? 32 : 64);
                for (int64_t b = 0; b < be / 32; b++) {
                    const int64_t blk = s * (be / 32) + b;
                    __m512i w[8];
                    for (int c = 0; c < 8; c++) w[c] = chunk_quants(type, p + hb + b * pb, c);
                    // Per-row factors of this block, shared by the tile's tokens.
                    __m512 f0 = d, f1 = m, f2 = _mm512_setzero_ps(), f3 = _mm512_setzero_ps();
                    if (type == CK_Q4_K || type == CK_Q5_K) {
                        f0 = _mm512_mul_ps(d, scales_u8(scales + b * 16));
                        f1 = _mm512_mul_ps(m, scales_u8(scales + 128 + b * 16));
                    } else if (type == CK_Q6_K || type == CK_Q3_K) {
                        f2 = scales_i8(scales + (2 * b) * 16);
                        f3 = scales_i8(scales + (2 * b + 1) * 16);
                    } else if (type == CK_Q2_K) {
                        __m512i scm0 = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(scales + (2 * b) * 16)));
                        __m512i scm1 = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(scales + (2 * b + 1) * 16)));
                        f2 = _mm512_cvtepi32_ps(_mm512_and_si512(scm0, lown));
                        f3 = _mm512_cvtepi32_ps(_mm512_and_si512(scm1, lown));
                        f0 = _mm512_cvtepi32_ps(_mm512_srli_epi32(scm0, 4));
                        f1 = _mm512_cvtepi32_ps(_mm512_srli_epi32(scm1, 4));
                    }
                    for (int64_t j = 0; j < nt; j++) {
                        const ck_act *a = &x[i0 + j];
                        __m512i dots[2];
                        block_dots(split, w, a->hi + blk * 32, split ? a->lo + blk * 32 : NULL, dots);
                        const __m512 dx = _mm512_set1_ps(a->d[blk]);
                        if (type == CK_Q5_0) {
                            __m512i sum = _mm512_sub_epi32(_mm512_add_epi32(dots[0], dots[1]), _mm512_set1_epi32(16 * a->isum[blk]));
                            acc[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum), _mm512_mul_ps(d, dx), acc[j]);
                        } else if (type == CK_Q5_1 || type == CK_Q4_K || type == CK_Q5_K) {
                            // d·u + m (Q5_1) or d·sc·u − dmin·mn (Q4_K, Q5_K): f0 and f1 hold the factors.
                            __m512 sum = _mm512_cvtepi32_ps(_mm512_add_epi32(dots[0], dots[1]));
                            acc[j] = _mm512_fmadd_ps(sum, _mm512_mul_ps(f0, dx), acc[j]);
                            acc[j] = type == CK_Q5_1 ? _mm512_fmadd_ps(f1, _mm512_set1_ps(a->s[blk]), acc[j])
                                                     : _mm512_fnmadd_ps(f1, _mm512_set1_ps(a->s[blk]), acc[j]);
                        } else if (type == CK_Q6_K || type == CK_Q3_K) {
                            const int32_t offset = type == CK_Q6_K ? 32 : 4;
                            __m512 sum = _mm512_mul_ps(
                                _mm512_cvtepi32_ps(_mm512_sub_epi32(dots[0], _mm512_set1_epi32(offset * a->isum16[2 * blk]))), f2);
                            sum = _mm512_fmadd_ps(
                                _mm512_cvtepi32_ps(_mm512_sub_epi32(dots[1], _mm512_set1_epi32(offset * a->isum16[2 * blk + 1]))), f3, sum);
                            acc[j] = _mm512_fmadd_ps(sum, _mm512_mul_ps(d, dx), acc[j]);
                        } else { // Q2_K: f2, f3 scales and f0, f1 mins of the two halves
                            __m512 sum = _mm512_mul_ps(_mm512_cvtepi32_ps(dots[0]), f2);
                            sum = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dots[1]), f3, sum);
                            __m512 mins = _mm512_mul_ps(f0, _mm512_set1_ps((float)a->isum16[2 * blk]));
                            mins = _mm512_fmadd_ps(f1, _mm512_set1_ps((float)a->isum16[2 * blk + 1]), mins);
                            acc[j] = _mm512_fmadd_ps(sum, _mm512_mul_ps(d, dx), acc[j]);
                            acc[j] = _mm512_fnmadd_ps(mins, _mm512_mul_ps(m, dx), acc[j]);
                        }
                    }
                }
            }
            for (int64_t j = 0; j < nt; j++) _mm512_storeu_ps(y + (i0 + j) * ldy + g * 16, acc[j]);
        }
    }
}

// One instance per type and activation form, so that every branch on the type folds away.
#define CK_K_INSTANCE(NAME, TYPE, SPLIT)                                                              \
CK_AVX512 static void NAME(const void *packed, int64_t k, int64_t g0, int64_t g1, const ck_act *x,   \
                           int64_t t, float *y, int64_t ldy) {                                        \
    packed_k_avx512(TYPE, SPLIT, packed, k, g0, g1, x, t, y, ldy);                                    \
}
CK_K_INSTANCE(q5_0_int8, CK_Q5_0, 0) CK_K_INSTANCE(q5_0_split, CK_Q5_0, 1)
CK_K_INSTANCE(q5_1_int8, CK_Q5_1, 0) CK_K_INSTANCE(q5_1_split, CK_Q5_1, 1)
CK_K_INSTANCE(q2_k_int8, CK_Q2_K, 0) CK_K_INSTANCE(q2_k_split, CK_Q2_K, 1)
CK_K_INSTANCE(q3_k_int8, CK_Q3_K, 0) CK_K_INSTANCE(q3_k_split, CK_Q3_K, 1)
CK_K_INSTANCE(q4_k_int8, CK_Q4_K, 0) CK_K_INSTANCE(q4_k_split, CK_Q4_K, 1)
CK_K_INSTANCE(q5_k_int8, CK_Q5_K, 0) CK_K_INSTANCE(q5_k_split, CK_Q5_K, 1)
CK_K_INSTANCE(q6_k_int8, CK_Q6_K, 0) CK_K_INSTANCE(q6_k_split, CK_Q6_K, 1)

void ck_packed_matmul_k(int type, const void *packed, int64_t k, int64_t g0, int64_t g1,
                        const ck_act *x, int64_t t, float *y, int64_t ldy) {
    if (!ck_has_avx512_vnni() || t == 0) {
        packed_matmul_k_generic(type, packed, k, g0, g1, x, t, y, ldy);
        return;
    }
    const int split = x[0].lo != NULL;
    typedef void (*kernel)(const void *, int64_t, int64_t, int64_t, const ck_act *, int64_t, float *, int64_t);
    kernel f = NULL;
    switch (type) {
    case CK_Q5_0: f = split ? q5_0_split : q5_0_int8; break;
    case CK_Q5_1: f = split ? q5_1_split : q5_1_int8; break;
    case CK_Q2_K: f = split ? q2_k_split : q2_k_int8; break;
    case CK_Q3_K: f = split ? q3_k_split : q3_k_int8; break;
    case CK_Q4_K: f = split ? q4_k_split : q4_k_int8; break;
    case CK_Q5_K: f = split ? q5_k_split : q5_k_int8; break;
    case CK_Q6_K: f = split ? q6_k_split : q6_k_int8; break;
    default: return;
    }
    f(packed, k, g0, g1, x, t, y, ldy);
}
