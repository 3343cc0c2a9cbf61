/// How the next token is chosen. Defaults follow llama.cpp's.
public struct SamplingParameters: Sendable, Equatable, Codable {
    /// 0 means greedy (argmax).
    public var temperature: Float = 0.8
    /// Keep the k most likely tokens; 0 keeps all.
    public var topK: Int = 40
    /// Keep the smallest set whose probability reaches p; 1 keeps all.
    public var topP: Float = 0.95
    /// Drop tokens less likely than minP × the most likely one; 0 keeps all.
    public var minP: Float = 0.05
    /// Divides positive (multiplies negative) logits of recently seen tokens; 1 is off.
    public var repetitionPenalty: Float = 1
    /// Subtracted once from the logit of every recently seen token.
    public var presencePenalty: Float = 0
    /// Subtracted per occurrence of a recently seen token.
    public var frequencyPenalty: Float = 0
    /// How many recent tokens the penalties look at.
    public var penaltyWindow: Int = 64
    /// Seed of the random generator; the same seed gives the same tokens.
    public var seed: UInt64 = 0

    public init() {}

    /// Argmax decoding.
    public static var greedy: SamplingParameters {
        var p = SamplingParameters()
        p.temperature = 0
        return p
    }

    /// Checks every field; the message names the offending one.
    public func validate() throws(ModelError) {
        func fail(_ s: String) -> ModelError { .invalidSampling(s) }
        guard temperature.isFinite, temperature >= 0 else { throw fail("temperature must be ≥ 0, got \(temperature)") }
        guard topK >= 0 else { throw fail("top-k must be ≥ 0 (0 disables it), got \(topK)") }
        guard topP > 0, topP <= 1 else { throw fail("top-p must be in (0, 1], got \(topP)") }
        guard minP >= 0, minP <= 1 else { throw fail("min-p must be in [0, 1], got \(minP)") }
        guard repetitionPenalty.isFinite, repetitionPenalty > 0 else {
            throw fail("repetition penalty must be > 0, got \(repetitionPenalty)")
        }
        guard presencePenalty.isFinite, frequencyPenalty.isFinite else { throw fail("presence and frequency penalties must be finite") }
        guard penaltyWindow >= 0 else { throw fail("penalty window must be ≥ 0, got \(penaltyWindow)") }
    }
}
