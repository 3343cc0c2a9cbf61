/// One token of a flat multi-sequence batch: the forward pass runs tokens of several
/// sequences together (prefill chunks and decode steps alike), each at its own position.
public struct BatchToken: Sendable, Equatable {
    public var token: Int
    public var position: Int
    public var sequence: Int
    /// Whether the caller wants this token's logits (usually only a sequence's last token).
    public var wantsLogits: Bool

    public init(token: Int, position: Int, sequence: Int = 0, wantsLogits: Bool = false) {
        self.token = token
        self.position = position
        self.sequence = sequence
        self.wantsLogits = wantsLogits
    }
}

/// How matrix products with quantised weights treat activations.
public enum ActivationPrecision: String, Sendable, CaseIterable {
    /// Keep activations in float32: exact up to float rounding; the reference path.
    case float32
    /// Quantise activations to 14 bits per block of 32, computed as two int8 dot products
    /// on packed weights: ≈1e-3 absolute error on a logit.
    case int16
    /// Quantise activations to int8 per block of 32 (as llama.cpp does): fastest, ≈0.1
    /// absolute error on a logit, enough to flip greedy choices at near-ties.
    case int8
}
