import Foundation

/// What `colony bench train --json` prints: one object with today's snake_case keys, a
/// `<mode>_tokens_per_second` key for each mode that ran.
public struct TrainBenchReport: Codable, Sendable, Equatable {
    public var seqLen: Int
    public var batch: Int
    public var threads: Int
    public var fullTokensPerSecond: Double?
    public var loraTokensPerSecond: Double?

    public init(seqLen: Int, batch: Int, threads: Int, fullTokensPerSecond: Double? = nil, loraTokensPerSecond: Double? = nil) {
        self.seqLen = seqLen
        self.batch = batch
        self.threads = threads
        self.fullTokensPerSecond = fullTokensPerSecond
        self.loraTokensPerSecond = loraTokensPerSecond
    }

    enum CodingKeys: String, CodingKey {
        case batch, threads
        case seqLen = "seq_len"
        case fullTokensPerSecond = "full_tokens_per_second"
        case loraTokensPerSecond = "lora_tokens_per_second"
    }

    /// The human-readable form: one line per mode that ran, in alphabetical order.
    public var table: String {
        [("full", fullTokensPerSecond), ("lora", loraTokensPerSecond)].compactMap { mode, value in
            value.map {
                mode.padding(toLength: 6, withPad: " ", startingAt: 0)
                    + String(format: "%8.1f tokens/s  (batch %d × seq %d, forward + backward + AdamW)\n", $0, batch, seqLen)
            }
        }.joined()
    }
}
