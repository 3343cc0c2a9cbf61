import ColonyKernels
import ColonyTensor
import Foundation

/// A Llama-family transformer (RMSNorm, RoPE, grouped-query attention, SwiGLU) running
/// on the CPU over memory-mapped GGUF weights.
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
    public let pool: ThreadPool
    let weights: LlamaWeights
    private var scratch: LlamaScratch
    /// Reused across steps: a fresh vocabulary-sized buffer per token costs page faults.
    private var logits = FloatBuffer(uninitializedCount: 0)
    private let inverseFrequencies: [Double]

    /// Loads a model from a parsed GGUF file; `threads` workers compute each step.
    public init(gguf: GGUFFile, threads: Int = 1) throws(ModelError) {
        config = try LlamaConfiguration(gguf: gguf)
        file = gguf
        weights = try LlamaWeights(gguf: gguf, config: config)
        pool = ThreadPool(threads: max(1, threads))
        scratch = LlamaScratch(config: config, capacity: 1)
        let rot = config.ropeDimensions
        let base = Double(config.ropeFreqBase)
        inverseFrequencies = (0..<rot / 2).map { i in pow(base, -2.0 * Double(i) / Double(rot)) }
    }

    /// Bytes of weights read per decoded token: the numerator of the bandwidth roofline.
    public var weightBytesPerToken: Int { weights.bytesPerToken }

    /// Runs the batch and returns one logits vector per token with `wantsLogits`, in order.
    ///
    /// Positions of a sequence must be consecutive within the batch and start no later than
    /// its table's `length`; its table must hold blocks for every position written. On
    /// success each table's `length` covers the positions written.
    /// - Throws: `ModelError.invalidBatch`, `.tokenOutOfRange`, `.contextFull`,
    ///   `.blockTableTooShort`; nothing is written then.
    public func forward(_ batch: [BatchToken], cache: KVCache, tables: inout [Int: BlockTable]) throws(ModelError) -> [[Float]] {
        guard !batch.isEmpty else { return [] }
        try validate(batch, cache: cache, tables: tables)
        if batch.count > scratch.capacity { scratch = LlamaScratch(config: config, capacity: max(batch.count, 2 * scratch.capacity)) }
        let s = scratch
        let c = config
        let t = batch.count
        let dim = c.embeddingLength
        let qDim = c.headCount * c.headDimension
        let kvDim = c.kvDimension
        let ffn = c.feedForwardLength

        // Embeddings and the rotation angles of each token.
        for (i, b) in batch.enumerated() {
            ck_dequantize_row(
                Int32(weights.tokenEmbedding.dtype.rawValue),
                weights.tokenEmbedding.data + b.token * weights.tokenEmbedding.rowBytes,
                s.x.pointer + i * dim, Int64(dim))
            let pos = Double(b.position) / Double(c.ropeScale)
            for (j, f) in inverseFrequencies.enumerated() {
                s.cosTable[i * inverseFrequencies.count + j] = Float(cos(pos * f))
                s.sinTable[i * inverseFrequencies.count + j] = Float(sin(pos * f))
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
        let scale = 1 / Float(c.headDimension).squareRoot()
        let half = c.ropeDimensions / 2

        flat.withUnsafeBufferPointer { tablePointer in
            // The same for every layer: only the cache arrays change.
            let queries = batch.enumerated().map { i, b in
                ck_attn_token(
                    q: s.query.pointer + i * qDim, out: s.attention.pointer + i * qDim,
                    block_table: tablePointer.baseAddress! + tableOffset[b.sequence]!,
                    n_ctx: Int64(b.position + 1))
            }
            for (l, layer) in weights.layers.enumerated() {
                // Attention block.
                for i in 0..<t {
                    ck_rmsnorm(
                        s.x.pointer + i * dim, layer.attentionNorm.data.assumingMemoryBound(to: Float.self),
                        s.normed.pointer + i * dim, Int64(dim), c.rmsEpsilon)
                }
                matmul(
                    [(layer.query, s.query, qDim), (layer.key, s.key, kvDim), (layer.value, s.value, kvDim)],
                    input: s.normed, rows: t, k: dim)
                let keys = cache.keys[l].pointer
                let values = cache.values[l].pointer
                for i in 0..<t {
                    ck_rope(
                        s.query.pointer + i * qDim, Int64(c.headCount), Int64(c.headDimension), Int64(c.ropeDimensions),
                        s.cosTable.pointer + i * half, s.sinTable.pointer + i * half)
                    ck_rope(
                        s.key.pointer + i * kvDim, Int64(c.kvHeadCount), Int64(c.headDimension), Int64(c.ropeDimensions),
                        s.cosTable.pointer + i * half, s.sinTable.pointer + i * half)
                    (keys + slots[i] * kvDim).update(from: s.key.pointer + i * kvDim, count: kvDim)
                    (values + slots[i] * kvDim).update(from: s.value.pointer + i * kvDim, count: kvDim)
                }
                let kv = ck_kv_layer(k: keys, v: values, block_size: Int64(cache.blockSize), kv_dim: Int64(kvDim))
                queries.withUnsafeBufferPointer { q in
                    ck_par_attention(
                        pool.raw, q.baseAddress, Int64(t), kv, Int64(c.headCount), Int64(c.kvHeadCount),
                        Int64(c.headDimension), scale)
                }
                matmul([(layer.attentionOutput, s.projection, dim)], input: s.attention, rows: t, k: qDim)
                ck_add(s.x.pointer, s.projection.pointer, Int64(t * dim))

                // Feed-forward block.
                for i in 0..<t {
                    ck_rmsnorm(
                        s.x.pointer + i * dim, layer.ffnNorm.data.assumingMemoryBound(to: Float.self),
                        s.normed.pointer + i * dim, Int64(dim), c.rmsEpsilon)
                }
                matmul([(layer.gate, s.gate, ffn), (layer.up, s.up, ffn)], input: s.normed, rows: t, k: dim)
                ck_swiglu(s.gate.pointer, s.up.pointer, s.gate.pointer, Int64(t * ffn))
                matmul([(layer.down, s.projection, dim)], input: s.gate, rows: t, k: ffn)
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
        return (0..<wanted.count).map { logits.array($0 * c.vocabularySize..<($0 + 1) * c.vocabularySize) }
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
    public func forward(_ batch: [BatchToken], cache: KVCache, table: inout BlockTable) throws(ModelError) -> [[Float]] {
        guard let sequence = batch.first?.sequence else { return [] }
        guard batch.allSatisfy({ $0.sequence == sequence }) else { throw .invalidBatch("forward(table:) takes tokens of one sequence") }
        var tables = [sequence: table]
        defer { table = tables[sequence]! }
        return try forward(batch, cache: cache, tables: &tables)
    }

    /// Checks the batch against the model and the tables before anything is written.
    private func validate(_ batch: [BatchToken], cache: KVCache, tables: [Int: BlockTable]) throws(ModelError) {
        guard cache.layerCount == config.blockCount, cache.kvDimension == config.kvDimension else {
            throw .invalidBatch("the KV cache was made for another model geometry")
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
