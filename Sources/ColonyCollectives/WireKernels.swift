// Conversions between f32 and the 16-bit wire formats, over n values.
//
// The reference is Swift's `Float16` (f16) and the definition of bf16 (the top 16 bits of
// an f32, rounded to nearest even). The fast path is plain integer arithmetic that the
// compiler vectorises: without a CPU target that has F16C, `Float16` conversions compile
// to one library call per value (measured 2–3 ns each, ≈ 5× slower than the bit version
// below on 16 M values). Tests compare both on every f16 bit pattern and random floats.

/// Scalar conversions and the loops built on them. Nothing here allocates or throws.
enum WireKernels {

    // MARK: - Reference

    /// `x` after a round trip through `wire`, computed the obvious way.
    static func roundTripReference(_ x: Float, _ wire: WireFormat) -> Float {
        switch wire {
        case .f32: return x
        case .f16: return Float(Float16(x))
        case .bf16: return bf16ToFloat(floatToBF16(x))
        }
    }

    // MARK: - bf16

    /// Rounds to the nearest bf16, ties to even; NaN stays a (quiet) NaN.
    @inline(__always)
    static func floatToBF16(_ x: Float) -> UInt16 {
        let b = x.bitPattern
        // Adding 0x7FFF plus the lowest kept bit carries into the kept half exactly when
        // the dropped half is above the tie, or at the tie with an odd kept half.
        let rounded = (b &+ 0x7FFF &+ ((b >> 16) & 1)) >> 16
        // The carry could turn a NaN's payload into infinity; force the quiet bit instead.
        let nan = (b >> 16) | 0x0040
        return UInt16(truncatingIfNeeded: x.isNaN ? nan : rounded)
    }

    @inline(__always)
    static func bf16ToFloat(_ h: UInt16) -> Float {
        Float(bitPattern: UInt32(h) << 16)
    }

    // MARK: - f16

    /// Rounds to the nearest f16, ties to even, as `Float16(x)` does; overflow gives ±inf.
    ///
    /// After F. Giesen, "float->half variants" (float_to_half_fast3_rtne), with the three
    /// cases computed and selected rather than branched to, so that loops vectorise.
    @inline(__always)
    static func floatToF16(_ x: Float) -> UInt16 {
        let sign = x.bitPattern & 0x8000_0000
        let u = x.bitPattern ^ sign
        // Normal in f16: rebias the exponent and round half down, or up when the kept
        // mantissa is odd (the sum wraps for inputs of the other cases, which are discarded).
        let normal = (u &+ ((15 &- 127) << 23) &+ 0xFFF &+ ((u >> 13) & 1)) >> 13
        // Subnormal or zero in f16: adding 0.5 aligns the 10 kept bits at the bottom of the
        // mantissa, and the f32 addition does the rounding to nearest even.
        let magic = Float(bitPattern: ((127 - 15) + (23 - 10) + 1) << 23)
        let subnormal = (Float(bitPattern: u) + magic).bitPattern &- magic.bitPattern
        let special: UInt32 = u > 0x7F80_0000 ? 0x7E00 : 0x7C00  // NaN → quiet NaN, too large → inf
        let o = u >= (127 + 16) << 23 ? special : (u < 113 << 23 ? subnormal : normal)
        return UInt16(truncatingIfNeeded: o | (sign >> 16))
    }

    /// Exact widening of an f16, as `Float(Float16(bitPattern: h))` does (selects, not
    /// branches, as above).
    @inline(__always)
    static func f16ToFloat(_ h: UInt16) -> Float {
        let h = UInt32(h)
        let shiftedExponent: UInt32 = 0x7C00 << 13
        let bits = (h & 0x7FFF) << 13
        let exponent = bits & shiftedExponent
        let normal = bits &+ ((127 - 15) << 23)
        let special = normal &+ ((128 - 16) << 23)  // inf or NaN: exponent all ones
        // Subnormal: make it the normal 1.m × 2^-14 and subtract the implicit 2^-14.
        let subnormal = (Float(bitPattern: normal &+ (1 << 23)) - Float(bitPattern: 113 << 23)).bitPattern
        let o = exponent == shiftedExponent ? special : (exponent == 0 ? subnormal : normal)
        return Float(bitPattern: o | ((h & 0x8000) << 16))
    }

    // MARK: - Loops

    @inline(__always)
    static func encode(_ x: Float, _ wire: WireFormat) -> UInt16 {
        wire == .f16 ? floatToF16(x) : floatToBF16(x)
    }

    @inline(__always)
    static func decode(_ h: UInt16, _ wire: WireFormat) -> Float {
        wire == .f16 ? f16ToFloat(h) : bf16ToFloat(h)
    }

    /// `dst[i] = encode(src[i])` for a 16-bit `wire`.
    static func encode(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<UInt16>, count n: Int, wire: WireFormat) {
        precondition(wire != .f32, "f32 travels as is")
        // One loop per format so each vectorises without a per-value branch on `wire`.
        if wire == .f16 {
            for i in 0..<n { dst[i] = floatToF16(src[i]) }
        } else {
            for i in 0..<n { dst[i] = floatToBF16(src[i]) }
        }
    }

    /// `dst[i] = decode(src[i])` for a 16-bit `wire`.
    static func decode(_ src: UnsafePointer<UInt16>, _ dst: UnsafeMutablePointer<Float>, count n: Int, wire: WireFormat) {
        precondition(wire != .f32, "f32 travels as is")
        if wire == .f16 {
            for i in 0..<n { dst[i] = f16ToFloat(src[i]) }
        } else {
            for i in 0..<n { dst[i] = bf16ToFloat(src[i]) }
        }
    }

    /// `dst[i] = roundTrip(src[i])`: what the receiver of `src` sent over `wire` sees.
    static func roundTrip(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, count n: Int, wire: WireFormat) {
        switch wire {
        case .f32: dst.update(from: src, count: n)
        case .f16: for i in 0..<n { dst[i] = f16ToFloat(floatToF16(src[i])) }
        case .bf16: for i in 0..<n { dst[i] = bf16ToFloat(floatToBF16(src[i])) }
        }
    }

    /// `dst[i] += roundTrip(src[i])`.
    static func accumulate(_ src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>, count n: Int, wire: WireFormat) {
        switch wire {
        case .f32: for i in 0..<n { dst[i] += src[i] }
        case .f16: for i in 0..<n { dst[i] += f16ToFloat(floatToF16(src[i])) }
        case .bf16: for i in 0..<n { dst[i] += bf16ToFloat(floatToBF16(src[i])) }
        }
    }

    /// `sum[i] = encode(decode(input[i]) + decode(sum[i]))`: one step of a reduction whose
    /// partial sums travel in a 16-bit `wire` (the MPI backend's user op).
    static func addEncoded(_ input: UnsafePointer<UInt16>, into sum: UnsafeMutablePointer<UInt16>, count n: Int, wire: WireFormat) {
        precondition(wire != .f32, "f32 travels as is")
        if wire == .f16 {
            for i in 0..<n { sum[i] = floatToF16(f16ToFloat(input[i]) + f16ToFloat(sum[i])) }
        } else {
            for i in 0..<n { sum[i] = floatToBF16(bf16ToFloat(input[i]) + bf16ToFloat(sum[i])) }
        }
    }

    /// `buffer[i] /= divisor`, the second half of `ReduceOp.average`.
    static func divide(_ buffer: UnsafeMutablePointer<Float>, count n: Int, by divisor: Int) {
        // A division, not a multiplication by 1/divisor: the quotient of an exact sum is
        // then the correctly rounded mean (for a sum of 3 ranks' 1.0, exactly 1.0).
        let d = Float(divisor)
        for i in 0..<n { buffer[i] /= d }
    }
}
