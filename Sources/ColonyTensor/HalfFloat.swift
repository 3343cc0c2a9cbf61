import ColonyKernels

/// f32 ⇄ f16 and f32 ⇄ bf16 for Swift code, bit for bit as the C kernels convert GGUF
/// rows: the one implementation is `ck_half.h` in ColonyKernels (round to nearest even,
/// subnormals kept, overflow to ±inf, NaN stays a quiet NaN).
///
/// Inlinable, and branch-free underneath, so a loop over many values vectorises in the
/// caller's module (the collectives' wire formats).
public enum HalfFloat {
    /// The nearest f16 to `x`, as bits.
    @inlinable @inline(__always)
    public static func f16(_ x: Float) -> UInt16 { ck_f32_to_f16(x) }

    /// The value of the f16 with bits `h` (exact).
    @inlinable @inline(__always)
    public static func float(f16 h: UInt16) -> Float { ck_f16_to_f32(h) }

    /// The nearest bf16 to `x`, as bits.
    @inlinable @inline(__always)
    public static func bf16(_ x: Float) -> UInt16 { ck_f32_to_bf16(x) }

    /// The value of the bf16 with bits `h` (exact).
    @inlinable @inline(__always)
    public static func float(bf16 h: UInt16) -> Float { ck_bf16_to_f32(h) }
}
