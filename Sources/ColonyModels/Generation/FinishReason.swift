/// Why generation ended.
public enum FinishReason: String, Sendable, Codable {
    /// A stop token or stop string.
    case stop
    /// `maxTokens` reached.
    case length
    /// The context window is full.
    case contextFull = "context_full"
    /// The caller asked to stop.
    case cancelled
}
