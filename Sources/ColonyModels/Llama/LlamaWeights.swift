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

/// The tensors of a decoder of the Llama family, checked against its configuration.
///
/// Optional tensors follow the families: biases on Q, K and V (Qwen2), per-head Q and K
/// norms (Qwen3, Gemma 3), norms after attention and feed-forward (Gemma), RoPE frequency
/// factors (Llama 3.1). Fused matrices (Phi-3's `attn_qkv` and gate-up `ffn_up`) are split
/// into views of their rows here, so the forward pass sees one shape for every family.
struct LlamaWeights: Sendable {
    struct Layer: Sendable {
        let attentionNorm: Tensor
        let query, key, value, attentionOutput: WeightMatrix
        let queryBias, keyBias, valueBias: Tensor?
        let queryNorm, keyNorm: Tensor?
        let postAttentionNorm: Tensor?
        let ffnNorm: Tensor
        let gate, up, down: WeightMatrix
        let postFFNNorm: Tensor?
    }

    let tokenEmbedding: Tensor
    let outputNorm: Tensor
    /// `output.weight`, or the token embedding when the model ties them.
    let output: WeightMatrix
    /// Divisors of the RoPE frequencies, one per rotated pair (Llama 3.1's scaling).
    let ropeFactors: [Float]?
    let layers: [Layer]

    init(gguf: GGUFFile, config c: LlamaConfiguration) throws(ModelError) {
        func tensor(_ name: String, _ shape: [Int]) throws(ModelError) -> Tensor {
            guard let t = gguf.tensor(name) else { throw .missingTensor(name) }
            return try Self.check(t, shape)
        }
        func optional(_ name: String, _ shape: [Int]) throws(ModelError) -> Tensor? {
            guard let t = gguf.tensor(name) else { return nil }
            return try Self.check(t, shape)
        }
        let dim = c.embeddingLength
        let qDim = c.queryDimension
        let kvDim = c.kvDimension
        let ffn = c.feedForwardLength
        tokenEmbedding = try tensor("token_embd.weight", [dim, c.vocabularySize])
        outputNorm = try tensor("output_norm.weight", [dim])
        output = WeightMatrix(try optional("output.weight", [dim, c.vocabularySize]) ?? tokenEmbedding)
        ropeFactors = try optional("rope_freqs.weight", [c.ropeDimensions / 2]).map { $0.dequantized() }
        var layers: [Layer] = []
        for i in 0..<c.blockCount {
            let p = "blk.\(i)."
            let q: Tensor
            let k: Tensor
            let v: Tensor
            if let fused = try optional(p + "attn_qkv.weight", [dim, qDim + 2 * kvDim]) {
                (q, k, v) = (fused.rows(0, qDim), fused.rows(qDim, kvDim), fused.rows(qDim + kvDim, kvDim))
            } else {
                (q, k, v) = (
                    try tensor(p + "attn_q.weight", [dim, qDim]), try tensor(p + "attn_k.weight", [dim, kvDim]),
                    try tensor(p + "attn_v.weight", [dim, kvDim])
                )
            }
            let gate: Tensor
            let up: Tensor
            if gguf.tensor(p + "ffn_gate.weight") == nil, let fused = try optional(p + "ffn_up.weight", [dim, 2 * ffn]) {
                (gate, up) = (fused.rows(0, ffn), fused.rows(ffn, ffn))
            } else {
                (gate, up) = (try tensor(p + "ffn_gate.weight", [dim, ffn]), try tensor(p + "ffn_up.weight", [dim, ffn]))
            }
            layers.append(
                Layer(
                    attentionNorm: try tensor(p + "attn_norm.weight", [dim]),
                    query: WeightMatrix(q), key: WeightMatrix(k), value: WeightMatrix(v),
                    attentionOutput: WeightMatrix(try tensor(p + "attn_output.weight", [qDim, dim])),
                    queryBias: try optional(p + "attn_q.bias", [qDim]), keyBias: try optional(p + "attn_k.bias", [kvDim]),
                    valueBias: try optional(p + "attn_v.bias", [kvDim]),
                    queryNorm: try optional(p + "attn_q_norm.weight", [c.headDimension]),
                    keyNorm: try optional(p + "attn_k_norm.weight", [c.headDimension]),
                    postAttentionNorm: try optional(p + "post_attention_norm.weight", [dim]),
                    ffnNorm: try tensor(p + "ffn_norm.weight", [dim]),
                    gate: WeightMatrix(gate), up: WeightMatrix(up),
                    down: WeightMatrix(try tensor(p + "ffn_down.weight", [ffn, dim])),
                    postFFNNorm: try optional(p + "post_ffw_norm.weight", [dim])))
        }
        self.layers = layers
        let vectors: [Tensor] =
            [outputNorm]
            + layers.flatMap { l in
                [l.attentionNorm, l.ffnNorm]
                    + [l.queryBias, l.keyBias, l.valueBias, l.queryNorm, l.keyNorm, l.postAttentionNorm, l.postFFNNorm]
                    .compactMap { $0 }
            }
        for vector in vectors where vector.dtype != .f32 {
            throw .invalidConfiguration("norm or bias '\(vector.name)' is \(vector.dtype); expected F32")
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
