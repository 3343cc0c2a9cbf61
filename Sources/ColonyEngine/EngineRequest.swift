import ColonyModels
import Foundation

/// One generation request as the engine sees it: tokens in, tokens out.
public struct EngineRequest: Sendable {
    /// Unique among the requests in flight; cancellation refers to it.
    public var id: String
    public var promptTokens: [Int]
    public var sampling: SamplingParameters
    /// Tokens to generate at most.
    public var maxTokens: Int
    /// Token ids that end generation (not emitted). Empty means the model's end tokens.
    public var stopTokens: Set<Int>
    /// Strings that end generation (not emitted).
    public var stopStrings: [String]
    /// Larger runs first under the priority policy.
    public var priority: Int
    public var arrival: Date
    /// Limits what the model may emit (JSON), or nil for free text.
    public var constraint: OutputConstraint?
    /// Stop tokens cannot be sampled before this many tokens are generated (OpenAI-style
    /// `min_tokens`, as vLLM and benchmark clients send it).
    public var minTokens: Int
    /// The model's end tokens are never sampled, so generation runs to `maxTokens` (or a
    /// stop string): what benchmark clients ask for to get fixed output lengths.
    public var ignoreEOS: Bool
    /// Separates this request's prefix-cache entries from requests with another salt (as
    /// vLLM's `cache_salt`): cached blocks are shared only between equal salts.
    public var cacheSalt: String?
    /// The conversation this request belongs to (OpenAI's `user`, or an `x-session-id`
    /// header): a router keeps a session on one worker; an engine ignores it.
    public var session: String?
    /// The routing strategy this request asks a router for (an `x-colony-routing` header:
    /// `kv`, `round-robin`, `least-load` or `score`); an engine ignores it.
    public var routing: String?
    /// How many of the prompt's last tokens this request already generated elsewhere (a
    /// request migrated from a worker that died): the sampler, the penalties and the output
    /// constraint resume after them, as if generation had never moved. `maxTokens` and
    /// `minTokens` count only what is generated from here.
    public var resumedTokens = 0
    /// The LoRA adapter this request runs with on the engine's base model (nil: the base
    /// alone). Its name salts the request's prefix-cache chain, so two versions never share
    /// KV blocks; the request keeps this adapter to its end even if a newer one is swapped in.
    public var adapter: LoRAWeights?

    public init(
        id: String = UUID().uuidString, promptTokens: [Int], sampling: SamplingParameters = .greedy,
        maxTokens: Int = 128, stopTokens: Set<Int> = [], stopStrings: [String] = [],
        priority: Int = 0, arrival: Date = Date(), constraint: OutputConstraint? = nil,
        minTokens: Int = 0, ignoreEOS: Bool = false, cacheSalt: String? = nil, session: String? = nil
    ) {
        self.id = id
        self.promptTokens = promptTokens
        self.sampling = sampling
        self.maxTokens = maxTokens
        self.stopTokens = stopTokens
        self.stopStrings = stopStrings
        self.priority = priority
        self.arrival = arrival
        self.constraint = constraint
        self.minTokens = minTokens
        self.ignoreEOS = ignoreEOS
        self.cacheSalt = cacheSalt
        self.session = session
    }
}

extension EngineRequest {
    /// Checks what any backend would refuse: an empty prompt, token ids outside the
    /// vocabulary, a prompt that leaves no room in `contextLimit`, token limits, sampling.
    public func validate(vocabularySize: Int, contextLimit: Int) throws(EngineError) {
        guard !promptTokens.isEmpty else { throw .invalidRequest("the prompt is empty") }
        if let bad = promptTokens.first(where: { $0 < 0 || $0 >= vocabularySize }) {
            throw .invalidRequest("token id \(bad) is outside the vocabulary 0..<\(vocabularySize)")
        }
        guard promptTokens.count < contextLimit else { throw .promptTooLong(tokens: promptTokens.count, limit: contextLimit) }
        guard maxTokens > 0 else { throw .invalidRequest("max_tokens must be > 0, got \(maxTokens)") }
        guard (0...maxTokens).contains(minTokens) else {
            throw .invalidRequest("min_tokens must be between 0 and max_tokens (\(maxTokens)), got \(minTokens)")
        }
        guard (0..<promptTokens.count).contains(resumedTokens) else {
            throw .invalidRequest(
                "resumed_tokens must be between 0 and the prompt's length - 1 (\(promptTokens.count - 1)), got \(resumedTokens)")
        }
        do { try sampling.validate() } catch { throw .invalidRequest(error.description) }
    }
}

/// Token counts of a finished request, as OpenAI's `usage` reports them.
public struct Usage: Sendable, Equatable, Codable {
    public var promptTokens: Int
    public var completionTokens: Int
    /// Prompt tokens whose keys and values came from the prefix cache.
    public var cachedPromptTokens: Int

    public init(promptTokens: Int, completionTokens: Int, cachedPromptTokens: Int) {
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.cachedPromptTokens = cachedPromptTokens
    }
}

/// What a request's stream yields.
public enum EngineEvent: Sendable, Equatable {
    /// A new token and the text it completes (possibly empty: half a character, or text
    /// held back because it may start a stop string).
    case token(id: Int, text: String)
    /// The last event of a stream, with any text still held back when it ended.
    case finished(FinishReason, Usage, trailingText: String)
}

/// Why the engine refused a request. Nothing about the engine changes when it does.
public enum EngineError: Error, Equatable, CustomStringConvertible {
    case queueFull(limit: Int)
    case invalidRequest(String)
    case promptTooLong(tokens: Int, limit: Int)
    case duplicateID(String)
    case shuttingDown
    /// Nothing can serve the request now (a router with no ready worker); retry later.
    case unavailable(String)

    public var description: String {
        switch self {
        case .queueFull(let limit): "the request queue is full (\(limit) waiting); retry later"
        case .invalidRequest(let why): why
        case .promptTooLong(let tokens, let limit): "the prompt has \(tokens) tokens; this model's context holds \(limit)"
        case .duplicateID(let id): "a request with id '\(id)' is already running"
        case .shuttingDown: "the engine is shutting down"
        case .unavailable(let why): why
        }
    }
}
