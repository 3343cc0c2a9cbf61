import ColonyModels
import Foundation

/// A request in flight inside the engine: its tokens (prompt, then output), its KV blocks
/// and how many of its tokens are already in the cache.
final class SequenceState {
    let request: EngineRequest
    /// The KV cache's sequence number for this request.
    let slot: Int
    let continuation: AsyncThrowingStream<EngineEvent, Error>.Continuation
    /// Prompt followed by the tokens generated so far.
    var tokens: [Int]
    /// Tokens whose keys and values are in the cache.
    var computed = 0
    var blocks: [Int32] = []
    /// Leading full blocks already registered in the prefix cache.
    var registeredBlocks = 0
    var generated = 0
    var cachedPromptTokens = 0
    var admitted = false
    var sampler: Sampler
    var detokenizer: StreamingDetokenizer
    var stopMatcher: StopMatcher
    var recognizer: JSONRecognizer?
    var lastTokenAt: Date?

    init(request: EngineRequest, slot: Int, tokenizer: Tokenizer,
         continuation: AsyncThrowingStream<EngineEvent, Error>.Continuation) throws(ModelError) {
        self.request = request
        self.slot = slot
        self.continuation = continuation
        tokens = request.promptTokens
        sampler = try Sampler(request.sampling)
        detokenizer = StreamingDetokenizer(tokenizer: tokenizer)
        stopMatcher = StopMatcher(stops: request.stopStrings)
        recognizer = request.constraint.map { JSONRecognizer(constraint: $0) }
    }

    /// Tokens still to run through the model before the next one can be sampled.
    var pending: Int { tokens.count - computed }
}
