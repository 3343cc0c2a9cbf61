import Foundation

/// Hyper-parameters of a decoder of the Llama family (see `ModelArchitecture` for the
/// families), read from GGUF metadata.
public struct LlamaConfiguration: Sendable, Equatable, Codable {
    public var architecture: ModelArchitecture
    public var vocabularySize: Int
    public var embeddingLength: Int
    public var blockCount: Int
    public var feedForwardLength: Int
    public var headCount: Int
    public var kvHeadCount: Int
    /// Elements per head of Q, K and V: `embeddingLength / headCount` unless the file says
    /// otherwise (`attention.key_length`, as Qwen3 and Gemma do).
    public var headDimension: Int
    public var contextLength: Int
    public var ropeFreqBase: Float
    /// Positions are divided by this factor before rotation (linear RoPE scaling).
    public var ropeScale: Float
    public var ropeDimensions: Int
    public var rmsEpsilon: Float
    /// Multiplies q·k before the softmax: 1/√headDimension unless the family says otherwise.
    public var attentionScale: Float
    /// A sliding-window layer lets a query at position q see keys at q − window + 1 … q.
    public var slidingWindow: Int?
    /// Which layers use the window (all of them when it is empty).
    public var slidingLayers: [Bool]
    /// RoPE base of the sliding layers when it differs from the global one (Gemma 3).
    public var slidingRopeFreqBase: Float?
    /// Attention scores become c·tanh(s/c) before the softmax (Gemma 2).
    public var attentionSoftCap: Float?
    /// Logits become c·tanh(l/c) (Gemma 2).
    public var finalSoftCap: Float?

    public var kvDimension: Int { kvHeadCount * headDimension }
    public var queryDimension: Int { headCount * headDimension }

    /// Whether layer `l` attends through the sliding window.
    public func isSliding(layer l: Int) -> Bool {
        guard slidingWindow != nil else { return false }
        return slidingLayers.isEmpty || slidingLayers[l]
    }

    /// Layer l slides unless l % n == n − 1 (llama.cpp's `set_swa_pattern`); n = 0: all slide.
    static func pattern(_ n: Int, layers: Int) -> [Bool] {
        (0..<layers).map { n == 0 || $0 % n < n - 1 }
    }

    /// Architectures whose metadata and tensors this type understands.
    public static let architectures = ModelArchitecture.allCases.map(\.rawValue)

    public init(
        architecture: ModelArchitecture = .llama,
        vocabularySize: Int, embeddingLength: Int, blockCount: Int, feedForwardLength: Int,
        headCount: Int, kvHeadCount: Int, headDimension: Int? = nil, contextLength: Int, ropeFreqBase: Float = 10000,
        ropeScale: Float = 1, ropeDimensions: Int? = nil, rmsEpsilon: Float = 1e-5, attentionScale: Float? = nil,
        slidingWindow: Int? = nil, slidingLayers: [Bool]? = nil, slidingRopeFreqBase: Float? = nil,
        attentionSoftCap: Float? = nil, finalSoftCap: Float? = nil
    ) {
        self.architecture = architecture
        self.vocabularySize = vocabularySize
        self.embeddingLength = embeddingLength
        self.blockCount = blockCount
        self.feedForwardLength = feedForwardLength
        self.headCount = headCount
        self.kvHeadCount = kvHeadCount
        let head = headDimension ?? embeddingLength / max(headCount, 1)
        self.headDimension = head
        self.contextLength = contextLength
        self.ropeFreqBase = ropeFreqBase
        self.ropeScale = ropeScale
        self.ropeDimensions = ropeDimensions ?? head
        self.rmsEpsilon = rmsEpsilon
        self.attentionScale = attentionScale ?? 1 / Float(max(head, 1)).squareRoot()
        self.slidingWindow = slidingWindow
        self.slidingLayers = slidingLayers ?? Self.pattern(architecture.defaultSlidingPattern, layers: blockCount)
        self.slidingRopeFreqBase = slidingRopeFreqBase
        self.attentionSoftCap = attentionSoftCap
        self.finalSoftCap = finalSoftCap
    }

    /// Reads the `{arch}.*` keys of a GGUF file.
    public init(gguf: GGUFFile) throws(ModelError) {
        self = try ModelError.catching { try Self.read(gguf) }
        try validate()
    }

    private static func read(_ gguf: GGUFFile) throws -> LlamaConfiguration {
        let name = try gguf.string("general.architecture")
        guard let arch = ModelArchitecture(rawValue: name) else { throw ModelError.unknownArchitecture(name, known: architectures) }
        if let parts = gguf.metadata["split.count"]?.integer, parts > 1 {
            throw ModelError.invalidConfiguration(
                "this file is part \((gguf.metadata["split.no"]?.integer ?? 0) + 1) of a model split into \(parts) GGUF files, which Colony does not load; merge them first with llama.cpp's `llama-gguf-split --merge`"
            )
        }
        if let experts = gguf.metadata["\(name).expert_count"]?.integer, experts > 0 {
            throw ModelError.invalidConfiguration(
                "mixture-of-experts models (\(experts) experts in '\(name)') are not supported; Colony runs dense models")
        }
        func int(_ key: String) throws(GGUFError) -> Int { try gguf.int("\(name).\(key)") }
        func optionalInt(_ key: String) throws(GGUFError) -> Int? { gguf.metadata["\(name).\(key)"] == nil ? nil : try int(key) }
        func optionalFloat(_ key: String) throws(GGUFError) -> Float? {
            gguf.metadata["\(name).\(key)"] == nil ? nil : Float(try gguf.double("\(name).\(key)"))
        }
        let heads = try int("attention.head_count")
        let vocab =
            gguf.metadata["\(name).vocab_size"]?.integer
            ?? gguf.metadata["tokenizer.ggml.tokens"]?.array?.count
            ?? gguf.tensor("token_embd.weight")?.shape.last ?? 0
        var scale: Float = 1
        if let type = gguf.metadata["\(name).rope.scaling.type"]?.string, type != "none" {
            guard type == "linear" else {
                throw ModelError.invalidConfiguration(
                    "rope scaling type '\(type)' is not supported; supported: none, linear, and Llama 3's frequency factors (rope_freqs.weight)"
                )
            }
            scale = Float(try optionalFloat("rope.scaling.factor") ?? 1)
        }
        let dim = try int("embedding_length")
        let keyLength = try optionalInt("attention.key_length")
        if let keyLength, let valueLength = try optionalInt("attention.value_length"), valueLength != keyLength {
            throw ModelError.invalidConfiguration("heads with K of \(keyLength) and V of \(valueLength) elements are not supported")
        }
        let blocks = try int("block_count")
        let head = keyLength ?? dim / max(heads, 1)
        var attentionScale = try optionalFloat("attention.scale")
        // Gemma scales queries by 1/√query_pre_attn_scalar, which the converter does not
        // write: llama.cpp knows it as dim/heads for the 27B models and the head size otherwise.
        if attentionScale == nil, arch.isGemma, blocks == (arch == .gemma2 ? 46 : 62) {
            attentionScale = 1 / Float(dim / heads).squareRoot()
        }
        // Gemma 2 files may leave out what the family fixes: its window and soft caps.
        let gemma2 = arch == .gemma2
        let window = try optionalInt("attention.sliding_window") ?? (gemma2 ? 4096 : nil)
        var layers: [Bool]?
        if let flags = gguf.metadata["\(name).attention.sliding_window_pattern"]?.array {
            layers = flags.map { $0.bool ?? false }
        } else if let n = try optionalInt("attention.sliding_window_pattern") {
            layers = pattern(n, layers: blocks)
        }
        return LlamaConfiguration(
            architecture: arch,
            vocabularySize: vocab,
            embeddingLength: dim,
            blockCount: blocks,
            feedForwardLength: try int("feed_forward_length"),
            headCount: heads,
            kvHeadCount: try optionalInt("attention.head_count_kv") ?? heads,
            headDimension: head,
            contextLength: try int("context_length"),
            ropeFreqBase: try optionalFloat("rope.freq_base") ?? 10000,
            ropeScale: scale,
            ropeDimensions: try optionalInt("rope.dimension_count"),
            rmsEpsilon: try optionalFloat("attention.layer_norm_rms_epsilon") ?? 1e-5,
            attentionScale: attentionScale,
            slidingWindow: window.flatMap { $0 > 0 ? $0 : nil },
            slidingLayers: layers,
            slidingRopeFreqBase: try optionalFloat("rope.freq_base_swa") ?? (arch == .gemma3 ? 10000 : nil),
            attentionSoftCap: gemma2 ? (try optionalFloat("attn_logit_softcapping") ?? 50).nonZero : nil,
            finalSoftCap: (try optionalFloat("final_logit_softcapping") ?? (gemma2 ? 30 : 0)).nonZero)
    }

    /// Checks the relations between the numbers that the forward pass relies on.
    public func validate() throws(ModelError) {
        func fail(_ s: String) -> ModelError { .invalidConfiguration(s) }
        guard vocabularySize > 0, embeddingLength > 0, blockCount > 0, feedForwardLength > 0, contextLength > 0 else {
            throw fail(
                "sizes must be positive (vocab \(vocabularySize), embedding \(embeddingLength), blocks \(blockCount), ffn \(feedForwardLength), context \(contextLength))"
            )
        }
        guard headCount > 0, headDimension > 0 else { throw fail("\(headCount) heads of \(headDimension) elements") }
        guard kvHeadCount > 0, headCount % kvHeadCount == 0 else {
            throw fail("\(headCount) heads are not a multiple of \(kvHeadCount) KV heads")
        }
        guard headDimension <= 256 else { throw fail("head dimension \(headDimension) exceeds 256") }
        guard ropeDimensions > 0, ropeDimensions <= headDimension, ropeDimensions % 2 == 0 else {
            throw fail("rope dimension \(ropeDimensions) must be even and at most the head dimension \(headDimension)")
        }
        guard ropeFreqBase > 0, ropeScale > 0, rmsEpsilon > 0, attentionScale > 0 else {
            throw fail("rope base, rope scale, RMS epsilon and attention scale must be positive")
        }
        if let w = slidingWindow, w <= 0 { throw fail("sliding window \(w) must be positive") }
        guard slidingLayers.isEmpty || slidingLayers.count == blockCount else {
            throw fail("the sliding window pattern names \(slidingLayers.count) layers; the model has \(blockCount)")
        }
        for cap in [attentionSoftCap, finalSoftCap].compactMap({ $0 }) where cap <= 0 { throw fail("soft cap \(cap) must be positive") }
    }
}

extension Float {
    /// nil for 0 (GGUF's "off" for soft caps).
    fileprivate var nonZero: Float? { self > 0 ? self : nil }
}
