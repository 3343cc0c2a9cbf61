import ColonyKernels
import ColonyTensor
import Foundation

/// A decoder of the Llama family (RMSNorm, RoPE, grouped-query attention, gated
/// feed-forward) running on the CPU over memory-mapped GGUF weights, with the variations of
/// the families in `ModelArchitecture`: biases and per-head norms on Q and K, sliding-window
/// layers with their own RoPE base, soft caps, norms after attention and feed-forward.
///
/// `forward` takes a flat batch of tokens from any number of sequences, writes their keys
/// and values into a paged `KVCache` at the blocks their `BlockTable`s name, and returns
/// logits for the tokens that ask for them. It allocates no blocks: its caller does.
/// Not thread-safe: one runner drives a model at a time (it owns scratch buffers and a
/// thread pool).
///
/// ```swift
/// let file = try GGUFFile(contentsOf: path)
/// let model = try LlamaModel(gguf: file, threads: 2)
/// let cache = KVCache(config: model.config, positions: 512)
/// var table = cache.wholeTable()
/// let logits = try model.forward([BatchToken(token: 1, position: 0, wantsLogits: true)], cache: cache, table: &table)
/// ```
public final class LlamaModel {
    public let config: LlamaConfiguration
    public let file: GGUFFile
    /// Int16 by default: the packed integer kernels are 2–4× faster than float32 (see
    /// `colony bench --precision`) and keep greedy output equal to the float reference,
    /// which int8 does not at near-ties.
    public var precision: ActivationPrecision = .int16
    /// The element type of the caches runners make for this model: f16 halves KV memory
    /// and attention traffic and keeps greedy output equal to the f32 cache on the tests.
    public var kvType: KVCacheType = .f16
    public let pool: ThreadPool
    let weights: LlamaWeights
    private var scratch: LlamaScratch
    /// Reused across steps: a fresh vocabulary-sized buffer per token costs page faults.
    private var logits = FloatBuffer(uninitializedCount: 0)
    /// RoPE of the global layers and, when it differs, of the sliding ones.
    private let ropes: [Rope]

    /// The rotation of one kind of layer: angle(pos, i) = pos · frequencies[i].
    struct Rope {
        let frequencies: [Double]
        let style: RopeStyle
    }

    /// Loads a model from a parsed GGUF file; `threads` workers compute each step.
    public init(gguf: GGUFFile, threads: Int = 1) throws(ModelError) {
        config = try LlamaConfiguration(gguf: gguf)
        file = gguf
        weights = try LlamaWeights(gguf: gguf, config: config)
        pool = ThreadPool(threads: max(1, threads))
        scratch = LlamaScratch(config: config, capacity: 1)
        let c = config
        let factors = weights.ropeFactors
        func rope(base: Float, scale: Float) -> Rope {
            let rot = c.ropeDimensions
            let frequencies = (0..<rot / 2).map { i -> Double in
                let factor = Double(factors?[i] ?? 1)
                let exponent = -2.0 * Double(i) / Double(rot)
                return pow(Double(base), exponent) / (Double(scale) * factor)
            }
            return Rope(frequencies: frequencies, style: c.architecture.ropeStyle)
        }
        var ropes = [rope(base: c.ropeFreqBase, scale: c.ropeScale)]
        if c.slidingWindow != nil, c.slidingRopeFreqBase != nil {
            // Gemma 3's sliding layers keep their short-context rotation: no linear scaling.
            ropes.append(rope(base: c.slidingRopeFreqBase ?? c.ropeFreqBase, scale: c.architecture == .gemma3 ? 1 : c.ropeScale))
        }
        self.ropes = ropes
    }

    /// Bytes of weights read per decoded token: the numerator of the bandwidth roofline.
    public var weightBytesPerToken: Int { weights.bytesPerToken }

    /// Runs the batch and returns one logits vector per token with `wantsLogits`, in order.
    ///
    /// Positions of a sequence must be consecutive within the batch and start no later than
    /// its table's `length`; its table must hold blocks for every position written. On
    /// success each table's `length` covers the positions written.
    /// `adapters` names the LoRA adapter of each sequence that has one (keyed by
    /// `BatchToken.sequence`); the others run on the base weights alone.
    /// - Throws: `ModelError.invalidBatch`, `.tokenOutOfRange`, `.contextFull`,
    ///   `.blockTableTooShort`; nothing is written then.
    public func forward(
        _ batch: [BatchToken], cache: KVCache, tables: inout [Int: BlockTable], adapters: [Int: LoRAWeights] = [:]
    ) throws(ModelError) -> [[Float]] {
        guard !batch.isEmpty else { return [] }
        try validate(batch, cache: cache, tables: tables, adapters: adapters)
        // The batch rows of each adapter, so every adapted projection runs once per adapter.
        var adapted: [(adapter: LoRAWeights, rows: [Int])] = []
        for (i, b) in batch.enumerated() {
            guard let adapter = adapters[b.sequence] else { continue }
            if let k = adapted.firstIndex(where: { $0.adapter === adapter }) {
                adapted[k].rows.append(i)
            } else {
                adapted.append((adapter, [i]))
            }
        }
        if batch.count > scratch.capacity { scratch = LlamaScratch(config: config, capacity: max(batch.count, 2 * scratch.capacity)) }
        let s = scratch
        let c = config
        let t = batch.count
        let dim = c.embeddingLength
        let qDim = c.queryDimension
        let kvDim = c.kvDimension
        let ffn = c.feedForwardLength
        let half = c.ropeDimensions / 2

        // Embeddings and the rotation angles of each token, per kind of layer.
        let embeddingScale: Float = c.architecture.scalesEmbedding ? Float(dim).squareRoot() : 1
        for (i, b) in batch.enumerated() {
            ck_dequantize_row(
                Int32(weights.tokenEmbedding.dtype.rawValue),
                weights.tokenEmbedding.data + b.token * weights.tokenEmbedding.rowBytes,
                s.x.pointer + i * dim, Int64(dim))
            if embeddingScale != 1 { for j in 0..<dim { s.x[i * dim + j] *= embeddingScale } }
            for (r, rope) in ropes.enumerated() {
                for (j, f) in rope.frequencies.enumerated() {
                    let angle = Double(b.position) * f
                    s.cosTable[(r * t + i) * half + j] = Float(cos(angle))
                    s.sinTable[(r * t + i) * half + j] = Float(sin(angle))
                }
            }
        }

        // Block tables of the batch's sequences, flattened so the kernels get stable pointers.
        var tableOffset: [Int: Int] = [:]
        var flat: [Int32] = []
        for b in batch where tableOffset[b.sequence] == nil {
            tableOffset[b.sequence] = flat.count
            flat.append(contentsOf: tables[b.sequence]!.blocks)
        }
        let blockSize = cache.blockSize
        let slots = batch.map { b in Int(flat[tableOffset[b.sequence]! + b.position / blockSize]) * blockSize + b.position % blockSize }

        flat.withUnsafeBufferPointer { tablePointer in
            // The same for every layer but for the window: only the cache arrays change.
            func queries(window: Int?) -> [ck_attn_token] {
                batch.enumerated().map { i, b in
                    ck_attn_token(
                        q: s.query.pointer + i * qDim, out: s.attention.pointer + i * qDim,
                        block_table: tablePointer.baseAddress! + tableOffset[b.sequence]!,
                        n_ctx: Int64(b.position + 1), start: Int64(window.map { max(0, b.position + 1 - $0) } ?? 0))
                }
            }
            let global = queries(window: nil)
            let sliding = c.slidingWindow.map { queries(window: $0) } ?? global
            for (l, layer) in weights.layers.enumerated() {
                let slides = c.isSliding(layer: l)
                let rope = slides && ropes.count > 1 ? 1 : 0
                let rotate = ropes[rope].style == .halves ? ck_rope_neox : ck_rope

                // Attention block.
                rmsnorm(s.x, layer.attentionNorm, into: s.normed, rows: t, width: dim)
                matmul(
                    [(layer.query, s.query, qDim), (layer.key, s.key, kvDim), (layer.value, s.value, kvDim)],
                    input: s.normed, rows: t, k: dim)
                for (adapter, rows) in adapted {
                    adapter.add(
                        .query, layer: l, input: s.normed.pointer, inStride: dim, output: s.query.pointer, outStride: qDim, rows: rows)
                    adapter.add(.key, layer: l, input: s.normed.pointer, inStride: dim, output: s.key.pointer, outStride: kvDim, rows: rows)
                    adapter.add(
                        .value, layer: l, input: s.normed.pointer, inStride: dim, output: s.value.pointer, outStride: kvDim, rows: rows)
                }
                for (bias, buffer, width) in [
                    (layer.queryBias, s.query, qDim), (layer.keyBias, s.key, kvDim), (layer.valueBias, s.value, kvDim),
                ] {
                    guard let bias else { continue }
                    for i in 0..<t { ck_add(buffer.pointer + i * width, bias.data.assumingMemoryBound(to: Float.self), Int64(width)) }
                }
                if let qn = layer.queryNorm { rmsnorm(s.query, qn, into: s.query, rows: t * c.headCount, width: c.headDimension) }
                if let kn = layer.keyNorm { rmsnorm(s.key, kn, into: s.key, rows: t * c.kvHeadCount, width: c.headDimension) }
                for i in 0..<t {
                    let cosines = s.cosTable.pointer + (rope * t + i) * half
                    let sines = s.sinTable.pointer + (rope * t + i) * half
                    rotate(s.query.pointer + i * qDim, Int64(c.headCount), Int64(c.headDimension), Int64(c.ropeDimensions), cosines, sines)
                    rotate(s.key.pointer + i * kvDim, Int64(c.kvHeadCount), Int64(c.headDimension), Int64(c.ropeDimensions), cosines, sines)
                    cache.store(layer: l, slot: slots[i], key: s.key.pointer + i * kvDim, value: s.value.pointer + i * kvDim)
                }
                (slides ? sliding : global).withUnsafeBufferPointer { q in
                    ck_par_attention(
                        pool.raw, q.baseAddress, Int64(t), cache.layer(l), Int64(c.headCount), Int64(c.kvHeadCount),
                        Int64(c.headDimension), c.attentionScale, c.attentionSoftCap ?? 0)
                }
                matmul([(layer.attentionOutput, s.projection, dim)], input: s.attention, rows: t, k: qDim)
                for (adapter, rows) in adapted {
                    adapter.add(
                        .output, layer: l, input: s.attention.pointer, inStride: qDim, output: s.projection.pointer, outStride: dim,
                        rows: rows)
                }
                if let post = layer.postAttentionNorm { rmsnorm(s.projection, post, into: s.projection, rows: t, width: dim) }
                ck_add(s.x.pointer, s.projection.pointer, Int64(t * dim))

                // Feed-forward block.
                rmsnorm(s.x, layer.ffnNorm, into: s.normed, rows: t, width: dim)
                matmul([(layer.gate, s.gate, ffn), (layer.up, s.up, ffn)], input: s.normed, rows: t, k: dim)
                for (adapter, rows) in adapted {
                    adapter.add(.gate, layer: l, input: s.normed.pointer, inStride: dim, output: s.gate.pointer, outStride: ffn, rows: rows)
                    adapter.add(.up, layer: l, input: s.normed.pointer, inStride: dim, output: s.up.pointer, outStride: ffn, rows: rows)
                }
                switch c.architecture.activation {
                case .silu: ck_swiglu(s.gate.pointer, s.up.pointer, s.gate.pointer, Int64(t * ffn))
                case .geluTanh: ck_geglu(s.gate.pointer, s.up.pointer, s.gate.pointer, Int64(t * ffn))
                }
                matmul([(layer.down, s.projection, dim)], input: s.gate, rows: t, k: ffn)
                for (adapter, rows) in adapted {
                    adapter.add(
                        .down, layer: l, input: s.gate.pointer, inStride: ffn, output: s.projection.pointer, outStride: dim, rows: rows)
                }
                if let post = layer.postFFNNorm { rmsnorm(s.projection, post, into: s.projection, rows: t, width: dim) }
                ck_add(s.x.pointer, s.projection.pointer, Int64(t * dim))
            }
        }
        for b in batch { tables[b.sequence]!.length = max(tables[b.sequence]!.length, b.position + 1) }

        // Final norm and output projection, only for the tokens that want logits.
        let wanted = batch.indices.filter { batch[$0].wantsLogits }
        guard !wanted.isEmpty else { return [] }
        for (o, i) in wanted.enumerated() {
            ck_rmsnorm(
                s.x.pointer + i * dim, weights.outputNorm.data.assumingMemoryBound(to: Float.self),
                s.normed.pointer + o * dim, Int64(dim), c.rmsEpsilon)
        }
        if logits.count < wanted.count * c.vocabularySize { logits = FloatBuffer(uninitializedCount: wanted.count * c.vocabularySize) }
        matmul([(weights.output, logits, c.vocabularySize)], input: s.normed, rows: wanted.count, k: dim)
        if let cap = c.finalSoftCap { ck_softcap(logits.pointer, Int64(wanted.count * c.vocabularySize), cap) }
        return (0..<wanted.count).map { logits.array($0 * c.vocabularySize..<($0 + 1) * c.vocabularySize) }
    }

    /// RMS-normalises `rows` rows of `width` floats with one weight vector (in place when
    /// `input` and `output` are the same buffer).
    private func rmsnorm(_ input: FloatBuffer, _ weight: Tensor, into output: FloatBuffer, rows: Int, width: Int) {
        let w = weight.data.assumingMemoryBound(to: Float.self)
        for i in 0..<rows { ck_rmsnorm(input.pointer + i * width, w, output.pointer + i * width, Int64(width), config.rmsEpsilon) }
    }

    /// Y = W·X for several weight matrices sharing one input, as one parallel job.
    private func matmul(_ outputs: [(weight: WeightMatrix, into: FloatBuffer, rows: Int)], input: FloatBuffer, rows t: Int, k: Int) {
        let integer = precision != .float32 && outputs.contains { $0.weight.packed != nil }
        let acts = integer ? scratch.quantize(input.pointer, rows: t, k: k, split: precision == .int16) : nil
        let jobs = outputs.map { o in
            ck_matmul_job(
                type: Int32(o.weight.tensor.dtype.rawValue), w: o.weight.tensor.data,
                packed: integer ? o.weight.packed?.data : nil, n: Int64(o.rows),
                y: o.into.pointer, ldy: Int64(o.rows))
        }
        jobs.withUnsafeBufferPointer { j in
            ck_par_matmul(pool.raw, j.baseAddress, Int32(j.count), Int64(k), input.pointer, acts, Int64(t))
        }
    }

    /// Runs a batch of one sequence (any `sequence` number) over its table.
    public func forward(
        _ batch: [BatchToken], cache: KVCache, table: inout BlockTable, adapter: LoRAWeights? = nil
    ) throws(ModelError) -> [[Float]] {
        guard let sequence = batch.first?.sequence else { return [] }
        guard batch.allSatisfy({ $0.sequence == sequence }) else { throw .invalidBatch("forward(table:) takes tokens of one sequence") }
        var tables = [sequence: table]
        defer { table = tables[sequence]! }
        return try forward(batch, cache: cache, tables: &tables, adapters: adapter.map { [sequence: $0] } ?? [:])
    }

    /// Checks the batch against the model and the tables before anything is written.
    private func validate(
        _ batch: [BatchToken], cache: KVCache, tables: [Int: BlockTable], adapters: [Int: LoRAWeights]
    ) throws(ModelError) {
        guard cache.layerCount == config.blockCount, cache.kvDimension == config.kvDimension else {
            throw .invalidBatch("the KV cache was made for another model geometry")
        }
        if let other = adapters.values.first(where: { $0.layers.count != config.blockCount }) {
            throw .invalidBatch("adapter '\(other.name)' has \(other.layers.count) layers; the model has \(config.blockCount)")
        }
        var next: [Int: Int] = [:]  // sequence → position its next batch token must have
        for b in batch {
            guard b.token >= 0 && b.token < config.vocabularySize else {
                throw .tokenOutOfRange(b.token, vocabularySize: config.vocabularySize)
            }
            guard b.position >= 0 else { throw .invalidBatch("negative position \(b.position)") }
            if let expected = next[b.sequence] {
                guard b.position == expected else {
                    throw .invalidBatch(
                        "sequence \(b.sequence) jumps from position \(expected - 1) to \(b.position); positions must be consecutive")
                }
            } else {
                guard let table = tables[b.sequence] else { throw .invalidBatch("sequence \(b.sequence) has no block table") }
                guard b.position <= table.length else {
                    throw .invalidBatch("sequence \(b.sequence) starts at position \(b.position) but has only \(table.length) cached")
                }
            }
            next[b.sequence] = b.position + 1
        }
        for (sequence, end) in next {
            guard end <= config.contextLength else { throw .contextFull(sequence: sequence, needed: end, capacity: config.contextLength) }
            let blocks = tables[sequence]!.blocks
            guard end <= blocks.count * cache.blockSize else {
                throw .blockTableTooShort(sequence: sequence, positions: end, blocks: blocks.count, blockSize: cache.blockSize)
            }
            if let bad = blocks.first(where: { $0 < 0 || Int($0) >= cache.blockCount }) {
                throw .invalidBatch("sequence \(sequence) names block \(bad); the cache has \(cache.blockCount)")
            }
        }
    }
}
