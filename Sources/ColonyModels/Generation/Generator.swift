import Foundation

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

/// Options of one generation.
public struct GenerationOptions: Sendable {
    public var maxTokens: Int = 256
    public var sampling = SamplingParameters()
    /// Token ids that end generation (not shown). Defaults to the model's end tokens.
    public var stopTokens: Set<Int> = []
    /// Strings that end generation (not shown).
    public var stopStrings: [String] = []

    public init() {}
}

/// Counts and timings of one generation.
public struct GenerationResult: Sendable {
    public var text = ""
    public var tokens: [Int] = []
    public var promptTokens = 0
    /// Prompt tokens found already in the cache (not recomputed).
    public var cachedPromptTokens = 0
    public var finishReason = FinishReason.length
    public var prefillSeconds = 0.0
    public var decodeSeconds = 0.0
}

/// Generates text for one sequence at a time over a model and its tokenizer, reusing the
/// cached prefix of the previous call (so a chat only computes each new turn).
public final class Generator {
    public let model: LlamaModel
    public let tokenizer: Tokenizer
    public let cache: KVCache
    /// Largest number of prompt tokens run in one forward batch.
    public var prefillChunk = 256
    /// Tokens whose keys and values are in the cache, in order.
    public private(set) var cachedTokens: [Int] = []
    private let sequence = 0

    /// - Parameter contextLength: positions to reserve (defaults to the model's context, at most 4096).
    public init(model: LlamaModel, tokenizer: Tokenizer, contextLength: Int? = nil) {
        self.model = model
        self.tokenizer = tokenizer
        cache = KVCache(config: model.config, positions: min(contextLength ?? 4096, model.config.contextLength))
    }

    /// Generates a continuation of `prompt`, calling `onText` with each new piece of text
    /// (never half a character, never part of a stop string). Return false to stop.
    public func generate(prompt: [Int], options: GenerationOptions,
                         onText: (String) -> Bool = { _ in true }) throws(ModelError) -> GenerationResult {
        guard !prompt.isEmpty else { throw .invalidBatch("the prompt is empty") }
        guard options.maxTokens > 0 else { throw .invalidSampling("max tokens must be > 0, got \(options.maxTokens)") }
        var sampler = try Sampler(options.sampling)
        let capacity = min(cache.capacity, model.config.contextLength)
        guard prompt.count < capacity else { throw .contextFull(sequence: sequence, needed: prompt.count + 1, capacity: capacity) }
        var result = GenerationResult()
        result.promptTokens = prompt.count

        // Reuse the longest cached prefix, but always recompute the last prompt token to get logits.
        var reuse = zip(cachedTokens, prompt).prefix { $0 == $1 }.count
        reuse = min(reuse, prompt.count - 1)
        cache.truncate(sequence: sequence, to: reuse)
        cachedTokens = Array(prompt[..<reuse])
        result.cachedPromptTokens = reuse

        let start = Date()
        var logits: [Float] = []
        var position = reuse
        while position < prompt.count {
            let end = min(prompt.count, position + prefillChunk)
            let batch = (position..<end).map { BatchToken(token: prompt[$0], position: $0, sequence: sequence, wantsLogits: $0 == prompt.count - 1) }
            let out = try model.forward(batch, cache: cache)
            cachedTokens += prompt[position..<end]
            if let last = out.last { logits = last }
            position = end
        }
        result.prefillSeconds = Date().timeIntervalSince(start)

        let decodeStart = Date()
        let stopTokens = options.stopTokens.isEmpty ? tokenizer.endOfTurnTokens : options.stopTokens
        var detokenizer = StreamingDetokenizer(tokenizer: tokenizer)
        var matcher = StopMatcher(stops: options.stopStrings)
        var history = prompt
        var stoppedByString = false
        func emit(_ text: String) -> Bool {
            result.text += text
            return text.isEmpty || onText(text)
        }
        while true {
            let next = sampler.sample(logits, history: history)
            if stopTokens.contains(next) { result.finishReason = .stop; break }
            result.tokens.append(next)
            history.append(next)
            let (text, stopped) = matcher.append(detokenizer.append(next))
            if !emit(text) { result.finishReason = .cancelled; break }
            if stopped { result.finishReason = .stop; stoppedByString = true; break }
            if result.tokens.count >= options.maxTokens { result.finishReason = .length; break }
            if position + 1 >= capacity { result.finishReason = .contextFull; break }
            logits = try model.forward([BatchToken(token: next, position: position, sequence: sequence, wantsLogits: true)], cache: cache)[0]
            cachedTokens.append(next)
            position += 1
            if Task.isCancelled { result.finishReason = .cancelled; break }
        }
        if !stoppedByString {
            _ = emit(matcher.append(detokenizer.flush()).text + matcher.flush())
        }
        result.decodeSeconds = Date().timeIntervalSince(decodeStart)
        return result
    }
}
