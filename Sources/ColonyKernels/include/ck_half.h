// Conversions between f32 and the two 16-bit float formats, f16 (IEEE half) and bf16 (the
// top half of an f32). The one implementation in Colony: the C kernels use it for GGUF
// F16/BF16 rows and Q4/Q8 block scales, Swift code through ColonyTensor's `HalfFloat` (the
// collectives' 16-bit wire formats).
//
// Round to nearest, ties to even; subnormals kept; overflow gives ±inf; a NaN stays a
// (quiet) NaN. Each function computes every case and selects one instead of branching, so
// that a loop over them vectorises once inlined: without F16C in the build target, the
// compiler's own half conversion is one library call per value (measured 2-3 ns each,
// about 5x slower on 16 M values). Tests compare them with Swift's `Float16` on every f16
// bit pattern and on random floats.
#ifndef CK_HALF_H
#define CK_HALF_H

#include <stdint.h>
#include <string.h>

static inline uint32_t ck_half_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static inline float ck_half_float(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

/// Rounds to the nearest f16, after F. Giesen, "float->half variants"
/// (float_to_half_fast3_rtne), with the three cases selected rather than branched to.
static inline uint16_t ck_f32_to_f16(float x) {
    uint32_t sign = ck_half_bits(x) & 0x80000000u;
    uint32_t u = ck_half_bits(x) ^ sign;
    // Normal in f16: rebias the exponent and round half down, or up when the kept mantissa
    // is odd (the sum wraps for inputs of the other cases, which are discarded).
    uint32_t normal = (u + ((uint32_t)(15 - 127) << 23) + 0xfffu + ((u >> 13) & 1)) >> 13;
    // Subnormal or zero in f16: adding 0.5 aligns the 10 kept bits at the bottom of the
    // mantissa, and the f32 addition does the rounding to nearest even.
    float magic = ck_half_float((uint32_t)((127 - 15) + (23 - 10) + 1) << 23);
    uint32_t subnormal = ck_half_bits(ck_half_float(u) + magic) - ck_half_bits(magic);
    uint32_t special = u > 0x7f800000u ? 0x7e00u : 0x7c00u; // NaN → quiet NaN, too large → inf
    uint32_t o = u >= (uint32_t)(127 + 16) << 23 ? special : (u < (uint32_t)113 << 23 ? subnormal : normal);
    return (uint16_t)(o | (sign >> 16));
}

/// Exact widening of an f16.
static inline float ck_f16_to_f32(uint16_t half) {
    uint32_t h = half;
    const uint32_t shifted_exponent = 0x7c00u << 13;
    uint32_t bits = (h & 0x7fffu) << 13;
    uint32_t exponent = bits & shifted_exponent;
    uint32_t normal = bits + ((uint32_t)(127 - 15) << 23);
    uint32_t special = normal + ((uint32_t)(128 - 16) << 23); // inf or NaN: exponent all ones
    // Subnormal: make it the normal 1.m × 2^-14 and subtract the implicit 2^-14.
    uint32_t subnormal = ck_half_bits(ck_half_float(normal + (1u << 23)) - ck_half_float((uint32_t)113 << 23));
    uint32_t o = exponent == shifted_exponent ? special : (exponent == 0 ? subnormal : normal);
    return ck_half_float(o | ((h & 0x8000u) << 16));
}

/// Rounds to the nearest bf16.
static inline uint16_t ck_f32_to_bf16(float x) {
    uint32_t b = ck_half_bits(x);
    // Adding 0x7FFF plus the lowest kept bit carries into the kept half exactly when the
    // dropped half is above the tie, or at the tie with an odd kept half.
    uint32_t rounded = (b + 0x7fffu + ((b >> 16) & 1)) >> 16;
    // The carry could turn a NaN's payload into infinity; force the quiet bit instead.
    uint32_t nan = (b >> 16) | 0x40u;
    return (uint16_t)((b & 0x7fffffffu) > 0x7f800000u ? nan : rounded);
}

/// Exact widening of a bf16.
static inline float ck_bf16_to_f32(uint16_t h) { return ck_half_float((uint32_t)h << 16); }

#endif
