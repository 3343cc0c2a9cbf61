import Foundation

/// A small, fast, seedable generator (Steele et al.'s SplitMix64): reproducible across
/// platforms, unlike the system generator. The sampler draws tokens with it; training
/// draws initial weights and data order.
public struct SplitMix64: Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Moves on as `n` calls of `next` would, in one step: the state only ever adds a
    /// constant, which is what lets a migrated request's sampler resume where it stood.
    public mutating func advance(by n: UInt64) { state &+= n &* 0x9E37_79B9_7F4A_7C15 }

    /// Uniform in [0, 1).
    public mutating func nextUnit() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// Uniform in [low, high).
    public mutating func uniform(_ low: Float, _ high: Float) -> Float { low + (high - low) * Float(nextUnit()) }

    /// Standard normal (Box–Muller).
    public mutating func normal() -> Float {
        let u = max(nextUnit(), 1e-12)
        let v = nextUnit()
        return Float((-2 * log(u)).squareRoot() * cos(2 * .pi * v))
    }

    /// A uniformly random index in 0..<n (n > 0).
    public mutating func index(below n: Int) -> Int { Int(next() % UInt64(n)) }
}
