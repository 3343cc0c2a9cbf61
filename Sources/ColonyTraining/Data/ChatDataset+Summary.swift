extension ChatDataset {
    /// One line about what was read: conversations, trained tokens, and what was cut,
    /// left out or skipped (`length` is the sequence length the data was read for).
    public func summary(length: Int) -> String {
        "\(examples.count) conversations, \(examples.reduce(0) { $0 + $1.trained.filter { $0 }.count }) trained tokens"
            + (truncated > 0 ? ", \(truncated) cut to \(length) tokens" : "")
            + (tooLong > 0 ? ", \(tooLong) left out (no assistant token within \(length) tokens)" : "")
            + (skippedForReward > 0 ? ", \(skippedForReward) skipped for their reward" : "")
    }
}
