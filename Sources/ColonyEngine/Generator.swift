import ColonyModels
import Foundation

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

/// Generates text for one request at a time, inline on the caller's thread: a thin user
/// of the engine's own step (`EngineCore`: scheduler, runner, output processor), with a
/// single-token block size so the prefix cache reuses everything a chat already computed
/// (each turn only computes what is new).
public final class Generator {
    public let model: LlamaModel
    public let tokenizer: Tokenizer
    /// Largest number of prompt tokens run in one forward batch.
    public let prefillChunk: Int
    private let core: EngineCore
    private let capacity: Int

    /// - Parameters:
    ///   - contextLength: positions to reserve (defaults to the model's context, at most 4096).
    ///   - prefillChunk: prompt tokens run per forward batch at most.
    public init(model: LlamaModel, tokenizer: Tokenizer, contextLength: Int? = nil, prefillChunk: Int = 256) {
        self.model = model
        self.tokenizer = tokenizer
        self.prefillChunk = prefillChunk
        capacity = min(contextLength ?? 4096, model.config.contextLength)
        var configuration = EngineConfiguration()
        configuration.blockSize = 1
        configuration.kvBlocks = max(2, capacity)
        configuration.maxBatch = 1
        configuration.tokenBudget = prefillChunk
        core = EngineCore(
            runner: LlamaRunner(model: model, blockCount: configuration.kvBlocks, blockSize: 1),
            tokenizer: tokenizer, configuration: configuration)
    }

    /// Generates a continuation of `prompt`, calling `onText` with each new piece of text
    /// (never half a character, never part of a stop string). Return false to stop.
    public func generate(
        prompt: [Int], options: GenerationOptions,
        onText: (String) -> Bool = { _ in true }
    ) throws(ModelError) -> GenerationResult {
        guard !prompt.isEmpty else { throw .invalidBatch("the prompt is empty") }
        guard options.maxTokens > 0 else { throw .invalidSampling("max tokens must be > 0, got \(options.maxTokens)") }
        try options.sampling.validate()
        guard prompt.count < capacity else { throw .contextFull(sequence: 0, needed: prompt.count + 1, capacity: capacity) }
        if let bad = prompt.first(where: { $0 < 0 || $0 >= model.config.vocabularySize }) {
            throw .tokenOutOfRange(bad, vocabularySize: model.config.vocabularySize)
        }
        let request = EngineRequest(
            promptTokens: prompt, sampling: options.sampling, maxTokens: options.maxTokens,
            stopTokens: options.stopTokens, stopStrings: options.stopStrings)
        // The sink runs inside `core.step()` on this thread, and the processor drops it when the
        // request finishes, before this call returns: it never outlives `onText`.
        return try withoutActuallyEscaping(onText) { onText throws(ModelError) in try run(request, onText: onText) }
    }

    private func run(_ request: EngineRequest, onText: @escaping (String) -> Bool) throws(ModelError) -> GenerationResult {
        var result = GenerationResult()
        result.promptTokens = request.promptTokens.count
        var stopping = false
        var finished = false
        var firstTokenAt: Date?
        try core.add(request) { event in
            if firstTokenAt == nil { firstTokenAt = Date() }
            switch event {
            case .token(let token, let text):
                result.tokens.append(token)
                result.text += text
                if !text.isEmpty, !onText(text) { stopping = true }
            case .finished(let reason, let usage, let tail):
                result.text += tail
                if !tail.isEmpty { _ = onText(tail) }
                result.finishReason = reason
                result.cachedPromptTokens = usage.cachedPromptTokens
                finished = true
            }
        }
        let start = Date()
        while !finished {
            if stopping || Task.isCancelled { core.cancel(request.id) } else { core.step() }
        }
        let end = Date()
        let first = firstTokenAt ?? end
        result.prefillSeconds = first.timeIntervalSince(start)
        result.decodeSeconds = end.timeIntervalSince(first)
        return result
    }
}
