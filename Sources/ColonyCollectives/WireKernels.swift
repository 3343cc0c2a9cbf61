import ColonyTensor

// Loops that move f32 values through the 16-bit wire formats, over n values.
//
// The scalar conversions are ColonyTensor's `HalfFloat` (one implementation, shared with
// the C kernels); they are inlinable and branch-free, so each loop here vectorises. The
// reference is Swift's `Float16` (f16) and the definition of bf16 (the top 16 bits of an
// f32, rounded to nearest even).

/// The loops of the wire formats, and their scalar reference. Nothing here allocates or throws.
enum WireKernels {

    // MARK: - Reference

    /// `x` after a round trip through `wire`, computed the obvious way.
    static func roundTripReference(_ x: Float, _ wire: WireFormat) -> Float {
        switch wire {
        case .f32: return x
        case .f16: return Float(Float16(x))
        case .bf16: return HalfFloat.float(bf16: HalfFloat.bf16(x))
        }
    }

    // MARK: - Loops

    @inline(__always)
    static func encode(_ x: Float, _ wire: WireFormat) -> UInt16 {
        wire == .f16 ? HalfFloat.f16(x) : HalfFloat.bf16(x)
    }

    @inline(__always)
    static func decode(_ h: UInt16, _ wire: WireFormat) -> Float {
        wire == .f16 ? HalfFloat.float(f16: h) : HalfFloat.float(bf16: h)
    }

    /// `dst[i] = encode(src[i])` for a 16-bit `wire`.
    static func encode(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<UInt16>, count n: Int, wire: WireFormat) {
        precondition(wire != .f32, "f32 travels as is")
        // One loop per format so each vectorises without a per-value branch on `wire`.
        if wire == .f16 {
            for i in 0..<n { dst[i] = HalfFloat.f16(src[i]) }
        } else {
            for i in 0..<n { dst[i] = HalfFloat.bf16(src[i]) }
        }
    }

    /// `dst[i] = decode(src[i])` for a 16-bit `wire`.
    static func decode(_ src: UnsafePointer<UInt16>, _ dst: UnsafeMutablePointer<Float>, count n: Int, wire: WireFormat) {
        precondition(wire != .f32, "f32 travels as is")
        if wire == .f16 {
            for i in 0..<n { dst[i] = HalfFloat.float(f16: src[i]) }
        } else {
            for i in 0..<n { dst[i] = HalfFloat.float(bf16: src[i]) }
        }
    }

    /// `dst[i] = roundTrip(src[i])`: what the receiver of `src` sent over `wire` sees.
    static func roundTrip(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, count n: Int, wire: WireFormat) {
        switch wire {
        case .f32: dst.update(from: src, count: n)
        case .f16: for i in 0..<n { dst[i] = HalfFloat.float(f16: HalfFloat.f16(src[i])) }
        case .bf16: for i in 0..<n { dst[i] = HalfFloat.float(bf16: HalfFloat.bf16(src[i])) }
        }
    }

    /// `dst[i] += roundTrip(src[i])`.
    static func accumulate(_ src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>, count n: Int, wire: WireFormat) {
        switch wire {
        case .f32: for i in 0..<n { dst[i] += src[i] }
        case .f16: for i in 0..<n { dst[i] += HalfFloat.float(f16: HalfFloat.f16(src[i])) }
        case .bf16: for i in 0..<n { dst[i] += HalfFloat.float(bf16: HalfFloat.bf16(src[i])) }
        }
    }

    /// `sum[i] = encode(decode(input[i]) + decode(sum[i]))`: one step of a reduction whose
    /// partial sums travel in a 16-bit `wire` (the MPI backend's user op).
    static func addEncoded(_ input: UnsafePointer<UInt16>, into sum: UnsafeMutablePointer<UInt16>, count n: Int, wire: WireFormat) {
        precondition(wire != .f32, "f32 travels as is")
        if wire == .f16 {
            for i in 0..<n { sum[i] = HalfFloat.f16(HalfFloat.float(f16: input[i]) + HalfFloat.float(f16: sum[i])) }
        } else {
            for i in 0..<n { sum[i] = HalfFloat.bf16(HalfFloat.float(bf16: input[i]) + HalfFloat.float(bf16: sum[i])) }
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
