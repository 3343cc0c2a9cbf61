import ColonyEngine
import ColonyModels

/// The text side of a routed request: workers stream token ids, and the router turns them
/// into text and applies stop strings, exactly as the engine's `OutputProcessor` would (so a
/// stream can move between workers without losing half a character).
struct RoutedOutput {
    private var detokenizer: StreamingDetokenizer
    private var stopMatcher: StopMatcher
    /// The token ids so far: what a request moved to another worker resumes after.
    private(set) var tokens: [Int] = []
    var generated: Int { tokens.count }

    init(tokenizer: Tokenizer, stopStrings: [String]) {
        detokenizer = StreamingDetokenizer(tokenizer: tokenizer)
        stopMatcher = StopMatcher(stops: stopStrings)
    }

    /// The text `token` completes, and whether a stop string ended the output; a stopped
    /// output has its held-back text flushed into that text.
    mutating func append(_ token: Int) -> (text: String, stopped: Bool) {
        tokens.append(token)
        return stopMatcher.append(detokenizer.append(token))
    }

    /// Text still held back when the worker ended the request.
    mutating func flush() -> String { stopMatcher.append(detokenizer.flush()).text + stopMatcher.flush() }
}
