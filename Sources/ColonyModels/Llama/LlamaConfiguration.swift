/// Hyper-parameters of a Llama-family model, read from GGUF metadata.
public struct LlamaConfiguration: Sendable, Equatable, Codable {
    public var vocabularySize: Int
    public var embeddingLength: Int
    public var blockCount: Int
    public var feedForwardLength: Int
    public var headCount: Int
    public var kvHeadCount: Int
    public var contextLength: Int
    public var ropeFreqBase: Float
    /// Positions are divided by this factor before rotation (linear RoPE scaling).
    public var ropeScale: Float
    public var ropeDimensions: Int
    public var rmsEpsilon: Float

    public var headDimension: Int { embeddingLength / headCount }
    public var kvDimension: Int { kvHeadCount * headDimension }

    /// Architectures whose metadata and tensors this type understands.
    public static let architectures = ["llama"]

    public init(
        vocabularySize: Int, embeddingLength: Int, blockCount: Int, feedForwardLength: Int,
        headCount: Int, kvHeadCount: Int, contextLength: Int, ropeFreqBase: Float = 10000,
        ropeScale: Float = 1, ropeDimensions: Int? = nil, rmsEpsilon: Float = 1e-5
    ) {
        self.vocabularySize = vocabularySize
        self.embeddingLength = embeddingLength
        self.blockCount = blockCount
        self.feedForwardLength = feedForwardLength
        self.headCount = headCount
        self.kvHeadCount = kvHeadCount
        self.contextLength = contextLength
        self.ropeFreqBase = ropeFreqBase
        self.ropeScale = ropeScale
        self.ropeDimensions = ropeDimensions ?? embeddingLength / max(headCount, 1)
        self.rmsEpsilon = rmsEpsilon
    }

    /// Reads the `{arch}.*` keys of a GGUF file.
    public init(gguf: GGUFFile) throws(ModelError) {
        self = try ModelError.catching {
            let arch = try gguf.string("general.architecture")
            guard Self.architectures.contains(arch) else { throw ModelError.unknownArchitecture(arch, known: Self.architectures) }
            func int(_ key: String) throws(GGUFError) -> Int { try gguf.int("\(arch).\(key)") }
            func optionalDouble(_ key: String) throws(GGUFError) -> Double? {
                gguf.metadata["\(arch).\(key)"] == nil ? nil : try gguf.double("\(arch).\(key)")
            }
            let heads = try int("attention.head_count")
            let vocab =
                gguf.metadata["\(arch).vocab_size"]?.integer
                ?? gguf.metadata["tokenizer.ggml.tokens"]?.array?.count
                ?? gguf.tensor("token_embd.weight")?.shape.last ?? 0
            var scale: Float = 1
            if let type = gguf.metadata["\(arch).rope.scaling.type"]?.string, type != "none" {
                guard type == "linear" else {
                    throw ModelError.invalidConfiguration("rope scaling type '\(type)' is not supported; supported: none, linear")
                }
                scale = Float(try optionalDouble("rope.scaling.factor") ?? 1)
            }
            return LlamaConfiguration(
                vocabularySize: vocab,
                embeddingLength: try int("embedding_length"),
                blockCount: try int("block_count"),
                feedForwardLength: try int("feed_forward_length"),
                headCount: heads,
                kvHeadCount: gguf.metadata["\(arch).attention.head_count_kv"] == nil ? heads : try int("attention.head_count_kv"),
                contextLength: try int("context_length"),
                ropeFreqBase: Float(try optionalDouble("rope.freq_base") ?? 10000),
                ropeScale: scale,
                ropeDimensions: gguf.metadata["\(arch).rope.dimension_count"] == nil ? nil : try int("rope.dimension_count"),
                rmsEpsilon: Float(try optionalDouble("attention.layer_norm_rms_epsilon") ?? 1e-5))
        }
        try validate()
    }

    /// Checks the relations between the numbers that the forward pass relies on.
    public func validate() throws(ModelError) {
        func fail(_ s: String) -> ModelError { .invalidConfiguration(s) }
        guard vocabularySize > 0, embeddingLength > 0, blockCount > 0, feedForwardLength > 0, contextLength > 0 else {
            throw fail(
                "sizes must be positive (vocab \(vocabularySize), embedding \(embeddingLength), blocks \(blockCount), ffn \(feedForwardLength), context \(contextLength))"
            )
        }
        guard headCount > 0, embeddingLength % headCount == 0 else {
            throw fail("embedding length \(embeddingLength) is not divisible by \(headCount) heads")
        }
        guard kvHeadCount > 0, headCount % kvHeadCount == 0 else {
            throw fail("\(headCount) heads are not a multiple of \(kvHeadCount) KV heads")
        }
        guard headDimension <= 256 else { throw fail("head dimension \(headDimension) exceeds 256") }
        guard ropeDimensions > 0, ropeDimensions <= headDimension, ropeDimensions % 2 == 0 else {
            throw fail("rope dimension \(ropeDimensions) must be even and at most the head dimension \(headDimension)")
        }
        guard ropeFreqBase > 0, ropeScale > 0, rmsEpsilon > 0 else { throw fail("rope base, rope scale and RMS epsilon must be positive") }
    }
}
