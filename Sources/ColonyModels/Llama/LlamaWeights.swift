import ColonyTensor

/// A weight matrix in its GGUF form (for the float path) and, when its type allows, in
/// the packed form of the integer kernels.
struct WeightMatrix: Sendable {
    let tensor: Tensor
    let packed: PackedMatrix?

    init(_ tensor: Tensor) {
        self.tensor = tensor
        packed = PackedMatrix(tensor)
    }
}

/// The tensors of a Llama-family model, checked against its configuration.
struct LlamaWeights: Sendable {
    struct Layer: Sendable {
        let attentionNorm: Tensor
        let query, key, value, attentionOutput: WeightMatrix
        let ffnNorm: Tensor
        let gate, up, down: WeightMatrix
    }

    let tokenEmbedding: Tensor
    let outputNorm: Tensor
    /// `output.weight`, or the token embedding when the model ties them.
    let output: WeightMatrix
    let layers: [Layer]

    init(gguf: GGUFFile, config c: LlamaConfiguration) throws(ModelError) {
        func tensor(_ name: String, _ shape: [Int]) throws(ModelError) -> Tensor {
            guard let t = gguf.tensor(name) else { throw .missingTensor(name) }
            return try Self.check(t, shape)
        }
        let qDim = c.headCount * c.headDimension
        tokenEmbedding = try tensor("token_embd.weight", [c.embeddingLength, c.vocabularySize])
        outputNorm = try tensor("output_norm.weight", [c.embeddingLength])
        output = WeightMatrix(
            try gguf.tensor("output.weight").map { t throws(ModelError) in try Self.check(t, [c.embeddingLength, c.vocabularySize]) }
                ?? tokenEmbedding)
        var layers: [Layer] = []
        for i in 0..<c.blockCount {
            let p = "blk.\(i)."
            layers.append(
                Layer(
                    attentionNorm: try tensor(p + "attn_norm.weight", [c.embeddingLength]),
                    query: WeightMatrix(try tensor(p + "attn_q.weight", [c.embeddingLength, qDim])),
                    key: WeightMatrix(try tensor(p + "attn_k.weight", [c.embeddingLength, c.kvDimension])),
                    value: WeightMatrix(try tensor(p + "attn_v.weight", [c.embeddingLength, c.kvDimension])),
                    attentionOutput: WeightMatrix(try tensor(p + "attn_output.weight", [qDim, c.embeddingLength])),
                    ffnNorm: try tensor(p + "ffn_norm.weight", [c.embeddingLength]),
                    gate: WeightMatrix(try tensor(p + "ffn_gate.weight", [c.embeddingLength, c.feedForwardLength])),
                    up: WeightMatrix(try tensor(p + "ffn_up.weight", [c.embeddingLength, c.feedForwardLength])),
                    down: WeightMatrix(try tensor(p + "ffn_down.weight", [c.feedForwardLength, c.embeddingLength]))))
        }
        self.layers = layers
        for norm in [outputNorm] + layers.flatMap({ [$0.attentionNorm, $0.ffnNorm] }) where norm.dtype != .f32 {
            throw .invalidConfiguration("norm weight '\(norm.name)' is \(norm.dtype); expected F32")
        }
    }

    private static func check(_ t: Tensor, _ shape: [Int]) throws(ModelError) -> Tensor {
        guard t.shape == shape else { throw .tensor(.shapeMismatch(tensor: t.name, expected: shape, found: t.shape)) }
        do { try t.validateComputable() } catch { throw .tensor(error) }
        return t
    }

    /// Bytes of weights one decode step reads (every matrix once, the embedding row aside).
    var bytesPerToken: Int {
        layers.reduce(output.tensor.byteCount) { sum, l in
            sum + [l.query, l.key, l.value, l.attentionOutput, l.gate, l.up, l.down].reduce(0) { $0 + $1.tensor.byteCount }
        }
    }
}
