import ColonyCollectives
import ColonyModels
import ColonyTensor
import Foundation

/// A weight matrix of the training model: trained in f32, or frozen in its GGUF form.
public enum Weight {
    case trainable(Variable)
    case frozen(FrozenMatrix)

    var rows: Int {
        switch self {
        case .trainable(let v): return v.rows
        case .frozen(let f): return f.rows
        }
    }

    var cols: Int {
        switch self {
        case .trainable(let v): return v.cols
        case .frozen(let f): return f.cols
        }
    }

    /// The weight as floats, row after row.
    var floats: [Float] {
        switch self {
        case .trainable(let v): return v.value
        case .frozen(let f): return f.floats()
        }
    }

    /// Output features `range` (a column-parallel slice): a frozen weight stays in its
    /// stored form, viewed in place.
    func rows(_ range: Range<Int>) -> Weight {
        switch self {
        case .trainable(let v): return .trainable(v.rows(range))
        case .frozen(let f): return .frozen(FrozenMatrix(f.tensor.rows(range.lowerBound, range.count), runtime: f.runtime))
        }
    }

    /// Input features `range` (a row-parallel slice). Quantized blocks run along rows: a
    /// frozen weight keeps its type when the slice falls on block edges (so a tensor rank
    /// computes as one process does), else it is expanded to f32.
    func columns(_ range: Range<Int>) -> Weight {
        switch self {
        case .trainable(let v): return .trainable(v.columns(range))
        case .frozen(let f):
            if let slice = f.tensor.columns(range.lowerBound, range.count) { return .frozen(FrozenMatrix(slice, runtime: f.runtime)) }
            let values = Variable(rows: f.rows, cols: f.cols, value: f.floats()).columns(range).value
            let tensor = try! Tensor.quantizing(values, name: f.tensor.name, shape: [range.count, f.rows], as: .f32)
            return .frozen(FrozenMatrix(tensor, runtime: f.runtime))
        }
    }
}

/// How a parameter of one tensor-parallel rank relates to the whole model's.
public enum ParameterPlacement: Sendable, Equatable {
    /// The same values, and the same gradient, on every rank (norms, embeddings; every
    /// parameter without tensor parallelism).
    case replicated
    /// This rank's own slice.
    case sliced
    /// The same values on every rank, but each rank's gradient is a partial sum that the
    /// ranks add up (the unsplit LoRA factor of a split projection).
    case partial
}

/// Which projections get LoRA adapters, and their size.
public struct LoRAConfiguration: Sendable, Equatable, Codable {
    /// The projections of a Llama block that can take an adapter.
    public static let allTargets = ["q", "k", "v", "o", "gate", "up", "down"]

    public var rank: Int
    public var alpha: Float
    public var targets: [String]

    public init(rank: Int = 8, alpha: Float = 16, targets: [String] = ["q", "k", "v", "o"]) {
        self.rank = rank
        self.alpha = alpha
        self.targets = targets
    }

    public func validate() throws(TrainingError) {
        guard (1...256).contains(rank) else { throw .invalidArgument("LoRA rank must be between 1 and 256, got \(rank)") }
        guard alpha > 0 else { throw .invalidArgument("LoRA alpha must be > 0, got \(alpha)") }
        guard !targets.isEmpty else {
            throw .invalidArgument("LoRA needs at least one target projection; choose from \(Self.allTargets.joined(separator: ", "))")
        }
        if let bad = targets.first(where: { !Self.allTargets.contains($0) }) {
            throw .invalidArgument("unknown LoRA target '\(bad)'; choose from \(Self.allTargets.joined(separator: ", "))")
        }
    }
}

/// A low-rank update `scale · B·A` of a frozen projection: `A` is rank × in, `B` out × rank.
public final class LoRAAdapter {
    public let a: Variable
    public let b: Variable
    public let scale: Float

    /// `A` small random, `B` zero: training starts exactly at the base model.
    init(inFeatures: Int, outFeatures: Int, config: LoRAConfiguration, rng: inout SplitMix64) {
        let bound = 1 / Float(inFeatures).squareRoot()
        a = Variable(
            rows: config.rank, cols: inFeatures, value: (0..<config.rank * inFeatures).map { _ in rng.uniform(-bound, bound) },
            requiresGrad: true)
        b = Variable(zeros: outFeatures, config.rank, requiresGrad: true)
        scale = config.alpha / Float(config.rank)
    }

    init(a: Variable, b: Variable, scale: Float) {
        self.a = a
        self.b = b
        self.scale = scale
    }
}

/// How a projection is split across tensor-parallel ranks.
enum ProjectionSplit {
    case none
    /// Output features split (Q, K, V, gate, up): the input and its gradient are whole.
    case columnParallel
    /// Input features split (attention output, down): the output is a partial sum.
    case rowParallel
}

/// One projection of a block: its base weight and, with LoRA, an adapter.
public final class Projection {
    public let name: String
    public let base: Weight
    public let lora: LoRAAdapter?
    let split: ProjectionSplit

    init(name: String, base: Weight, lora: LoRAAdapter?, split: ProjectionSplit = .none) {
        self.name = name
        self.base = base
        self.lora = lora
        self.split = split
    }

    /// This rank's part of a column-parallel projection: output features `range`. The
    /// adapter's `A` stays whole (its gradient becomes a partial sum), `B` is sliced.
    func columnParallel(_ range: Range<Int>) -> Projection {
        Projection(
            name: name, base: base.rows(range), lora: lora.map { LoRAAdapter(a: $0.a.copy(), b: $0.b.rows(range), scale: $0.scale) },
            split: .columnParallel)
    }

    /// This rank's part of a row-parallel projection: input features `range`. `A` is
    /// sliced, `B` stays whole (its gradient becomes a partial sum).
    func rowParallel(_ range: Range<Int>) -> Projection {
        Projection(
            name: name, base: base.columns(range), lora: lora.map { LoRAAdapter(a: $0.a.columns(range), b: $0.b.copy(), scale: $0.scale) },
            split: .rowParallel)
    }

    func apply(_ t: Tape, _ x: Variable) -> Variable {
        let y: Variable
        switch base {
        case .trainable(let w): y = t.linear(x, w)
        case .frozen(let f): y = t.linear(x, frozen: f)
        }
        guard let lora else { return y }
        return t.add(y, t.scale(t.linear(t.linear(x, lora.a), lora.b), lora.scale))
    }

    /// The base weight with the adapter merged in: W + scale · B·A.
    func merged() -> [Float] {
        var w = base.floats
        if let lora {
            sgemm(
                m: base.rows, n: base.cols, k: lora.a.rows, alpha: lora.scale, a: lora.b.value, lda: lora.b.cols,
                b: lora.a.value, ldb: lora.a.cols, beta: 1, c: &w, ldc: base.cols)
        }
        return w
    }
}

/// The Llama architecture for training: the same computation as `LlamaModel`, in f32 on
/// the autograd tape.
public final class TrainableLlama {
    public final class Layer {
        /// The layer's index in the whole model (names use it).
        public let index: Int
        public let attentionNorm: Variable
        public let q, k, v, o: Projection
        public let ffnNorm: Variable
        public let gate, up, down: Projection

        init(
            index: Int, attentionNorm: Variable, q: Projection, k: Projection, v: Projection, o: Projection,
            ffnNorm: Variable, gate: Projection, up: Projection, down: Projection
        ) {
            self.index = index
            self.attentionNorm = attentionNorm
            self.q = q
            self.k = k
            self.v = v
            self.o = o
            self.ffnNorm = ffnNorm
            self.gate = gate
            self.up = up
            self.down = down
        }

        var projections: [Projection] { [q, k, v, o, gate, up, down] }
    }

    public let config: LlamaConfiguration
    /// `nil` on pipeline stages that neither embed tokens nor (tied) project onto them.
    public let embedding: Weight?
    /// This partition's layers (all of them unless pipeline parallel).
    public let layers: [Layer]
    /// `nil` except on the last pipeline stage.
    public let outputNorm: Variable?
    /// `nil` when the output projection is the token embedding (tied), or off the last stage.
    public let output: Weight?
    public let lora: LoRAConfiguration?
    /// The GGUF this model came from (its metadata is kept on export).
    public let source: GGUFFile?
    /// The part of the model this object holds.
    public let partition: ModelPartition
    /// The ranks that hold the other slices of this stage (tensor parallel), if any.
    let tensorGroup: (any Collective)?

    /// A model with random weights (normal-ish, σ ≈ 0.02; norms at 1), every weight trained.
    public init(config c: LlamaConfiguration, tiedOutput: Bool = true, seed: UInt64 = 0) {
        var rng = SplitMix64(seed: seed)
        func dense(_ rows: Int, _ cols: Int) -> Variable {
            Variable(rows: rows, cols: cols, value: (0..<rows * cols).map { _ in rng.normal() * 0.02 }, requiresGrad: true)
        }
        func ones(_ n: Int) -> Variable { Variable(rows: 1, cols: n, value: [Float](repeating: 1, count: n), requiresGrad: true) }
        config = c
        embedding = .trainable(dense(c.vocabularySize, c.embeddingLength))
        var layers: [Layer] = []
        for i in 0..<c.blockCount {
            func proj(_ name: String, _ rows: Int, _ cols: Int) -> Projection {
                Projection(name: "blk.\(i).\(name).weight", base: .trainable(dense(rows, cols)), lora: nil)
            }
            let qDim = c.headCount * c.headDimension
            layers.append(
                Layer(
                    index: i, attentionNorm: ones(c.embeddingLength),
                    q: proj("attn_q", qDim, c.embeddingLength), k: proj("attn_k", c.kvDimension, c.embeddingLength),
                    v: proj("attn_v", c.kvDimension, c.embeddingLength), o: proj("attn_output", c.embeddingLength, qDim),
                    ffnNorm: ones(c.embeddingLength),
                    gate: proj("ffn_gate", c.feedForwardLength, c.embeddingLength),
                    up: proj("ffn_up", c.feedForwardLength, c.embeddingLength),
                    down: proj("ffn_down", c.embeddingLength, c.feedForwardLength)))
        }
        self.layers = layers
        outputNorm = ones(c.embeddingLength)
        output = tiedOutput ? nil : .trainable(dense(c.vocabularySize, c.embeddingLength))
        lora = nil
        source = nil
        partition = .whole(c)
        tensorGroup = nil
    }

    /// The model of a GGUF file. Without `lora` every weight is expanded to f32 and trained
    /// (full fine-tune); with it the base stays frozen in its stored (quantized) form and
    /// only the adapters train. `frozen` keeps every weight frozen (evaluation only).
    /// `packedRuntime` makes forward products of frozen quantized weights use the integer
    /// kernels (faster, near-exact); without it they are exact f32.
    public init(gguf: GGUFFile, lora: LoRAConfiguration? = nil, frozen: Bool = false, packedRuntime: PackedRuntime? = nil, seed: UInt64 = 0)
        throws
    {
        let c = try LlamaConfiguration(gguf: gguf)
        // Training builds the plain Llama graph; the other families' extras are not in it.
        guard c.architecture == .llama, c.slidingWindow == nil, gguf.tensor("rope_freqs.weight") == nil else {
            throw TrainingError.invalidModel(
                "training supports Llama models without sliding windows or RoPE frequency factors; this one is '\(c.architecture.rawValue)'"
                    + (c.slidingWindow.map { " with a sliding window of \($0)" } ?? ""))
        }
        try lora?.validate()
        let frozenBase = frozen || lora != nil
        var rng = SplitMix64(seed: seed)
        func tensor(_ name: String) throws -> Tensor {
            guard let t = gguf.tensor(name) else { throw TrainingError.invalidModel("the model has no tensor '\(name)'") }
            do { try t.validateComputable() } catch { throw TrainingError.invalidModel("\(error)") }
            return t
        }
        func norm(_ name: String) throws -> Variable {
            let t = try tensor(name)
            return Variable(rows: 1, cols: t.elementCount, value: t.dequantized(), requiresGrad: !frozenBase)
        }
        func weight(_ t: Tensor) -> Weight {
            frozenBase
                ? .frozen(FrozenMatrix(t, runtime: packedRuntime))
                : .trainable(Variable(rows: t.rowCount, cols: t.rowLength, value: t.dequantized(), requiresGrad: true))
        }
        func projection(_ layer: Int, _ name: String, _ target: String) throws -> Projection {
            let full = "blk.\(layer).\(name).weight"
            let t = try tensor(full)
            let adapter = lora.flatMap { l in
                l.targets.contains(target) ? LoRAAdapter(inFeatures: t.rowLength, outFeatures: t.rowCount, config: l, rng: &rng) : nil
            }
            return Projection(name: full, base: weight(t), lora: adapter)
        }
        config = c
        embedding = weight(try tensor("token_embd.weight"))
        var layers: [Layer] = []
        for i in 0..<c.blockCount {
            layers.append(
                Layer(
                    index: i, attentionNorm: try norm("blk.\(i).attn_norm.weight"),
                    q: try projection(i, "attn_q", "q"), k: try projection(i, "attn_k", "k"),
                    v: try projection(i, "attn_v", "v"), o: try projection(i, "attn_output", "o"),
                    ffnNorm: try norm("blk.\(i).ffn_norm.weight"),
                    gate: try projection(i, "ffn_gate", "gate"), up: try projection(i, "ffn_up", "up"),
                    down: try projection(i, "ffn_down", "down")))
        }
        self.layers = layers
        outputNorm = try norm("output_norm.weight")
        output = try gguf.tensor("output.weight").map { _ in weight(try tensor("output.weight")) }
        self.lora = lora
        source = gguf
        partition = .whole(c)
        tensorGroup = nil
    }

    /// The part of this (whole) model that `partition` names: its stage's layers and, with
    /// tensor parallelism, its slices, whose values start equal to the whole model's.
    /// Trainable values are copied, frozen ones viewed in place; `tensorGroup` is the
    /// stage's tensor-parallel ranks, in tensor-rank order.
    public func partitioned(_ partition: ModelPartition, tensorGroup: (any Collective)?) -> TrainableLlama {
        precondition(self.partition.isWhole, "only a whole model can be partitioned")
        let p = partition
        let d = config.headDimension
        let heads = (p.heads.lowerBound * d)..<(p.heads.upperBound * d)
        let kv = (p.kvGroups.lowerBound * d)..<(p.kvGroups.upperBound * d)
        let tp = p.tensorParallel > 1
        func column(_ x: Projection, _ r: Range<Int>) -> Projection { tp ? x.columnParallel(r) : x }
        func row(_ x: Projection, _ r: Range<Int>) -> Projection { tp ? x.rowParallel(r) : x }
        func copy(_ v: Variable) -> Variable { tp || p.stages > 1 ? v.copy() : v }
        let kept = layers[p.layers].map { l in
            Layer(
                index: l.index, attentionNorm: copy(l.attentionNorm), q: column(l.q, heads), k: column(l.k, kv), v: column(l.v, kv),
                o: row(l.o, heads), ffnNorm: copy(l.ffnNorm), gate: column(l.gate, p.feedForward), up: column(l.up, p.feedForward),
                down: row(l.down, p.feedForward))
        }
        let holdsEmbedding = p.isFirstStage || (p.isLastStage && output == nil)
        return TrainableLlama(
            config: config, embedding: holdsEmbedding ? embedding?.copied : nil, layers: kept,
            outputNorm: p.isLastStage ? outputNorm.map(copy) : nil, output: p.isLastStage ? output?.copied : nil, lora: lora,
            source: source, partition: p, tensorGroup: tp ? tensorGroup : nil)
    }

    private init(
        config: LlamaConfiguration, embedding: Weight?, layers: [Layer], outputNorm: Variable?, output: Weight?, lora: LoRAConfiguration?,
        source: GGUFFile?, partition: ModelPartition, tensorGroup: (any Collective)?
    ) {
        self.config = config
        self.embedding = embedding
        self.layers = layers
        self.outputNorm = outputNorm
        self.output = output
        self.lora = lora
        self.source = source
        self.partition = partition
        self.tensorGroup = tensorGroup
    }

    /// The variables being trained, with stable names (checkpoints and optimiser state use them).
    public var parameters: [(name: String, variable: Variable)] {
        placedParameters.map { ($0.name, $0.variable) }
    }

    /// The trainable variables with how each relates to the other tensor-parallel ranks'.
    public var placedParameters: [(name: String, variable: Variable, placement: ParameterPlacement)] {
        var out: [(String, Variable, ParameterPlacement)] = []
        func add(_ name: String, _ w: Weight?, _ placement: ParameterPlacement = .replicated) {
            if case .trainable(let v)? = w { out.append((name, v, placement)) }
        }
        add("token_embd.weight", embedding)
        for l in layers {
            if l.attentionNorm.requiresGrad { out.append(("blk.\(l.index).attn_norm.weight", l.attentionNorm, .replicated)) }
            if l.ffnNorm.requiresGrad { out.append(("blk.\(l.index).ffn_norm.weight", l.ffnNorm, .replicated)) }
            for p in l.projections {
                add(p.name, p.base, p.split == .none ? .replicated : .sliced)
                if let a = p.lora {
                    out.append(
                        (
                            p.name.replacingOccurrences(of: ".weight", with: ".lora_a"), a.a,
                            p.split == .none
                                ? .replicated
                                : p.split == .columnParallel ? .partial : .sliced
                        ))
                    out.append(
                        (
                            p.name.replacingOccurrences(of: ".weight", with: ".lora_b"), a.b,
                            p.split == .none
                                ? .replicated
                                : p.split == .rowParallel ? .partial : .sliced
                        ))
                }
            }
        }
        if let outputNorm, outputNorm.requiresGrad { out.append(("output_norm.weight", outputNorm, .replicated)) }
        add("output.weight", output)
        return out
    }

    /// Mean cross-entropy of `batch` (its loss-masked targets), recorded on `tape`.
    public func loss(_ batch: TrainingBatch, tape: Tape) throws -> Variable {
        tape.crossEntropy(try logits(batch, tape: tape), targets: batch.targets)
    }

    /// The loss summed over `batch`'s targets, and their count, without gradients:
    /// evaluation adds these up across batches (and ranks) into a token-weighted mean.
    public func summedLoss(_ batch: TrainingBatch) throws -> (sum: Double, count: Int) {
        let n = batch.targetCount
        guard n > 0 else { return (0, 0) }
        return (Double(try loss(batch, tape: Tape()).value[0]) * Double(n), n)
    }

    /// Logits of every row of `batch` (a model that is not split into pipeline stages).
    public func logits(_ batch: TrainingBatch, tape: Tape) throws -> Variable {
        precondition(partition.stages == 1, "a pipeline stage computes its part with forward(_:input:tape:)")
        return try forward(batch, input: nil, tape: tape)
    }

    /// This partition's part of the forward pass: from `batch`'s tokens (first stage) or
    /// the previous stage's hidden states `input`, to the hidden states for the next stage
    /// or, on the last stage, the logits.
    public func forward(_ batch: TrainingBatch, input: Variable?, tape t: Tape) throws -> Variable {
        let c = config
        let table = RopeTable(
            positions: batch.positions, headDimension: c.headDimension, dimensions: c.ropeDimensions,
            base: c.ropeFreqBase, scale: c.ropeScale)
        var h: Variable
        switch (input, partition.isFirstStage ? embedding : nil) {
        case (let x?, _): h = x
        case (nil, .trainable(let e)?): h = t.embedding(batch.tokens, e)
        case (nil, .frozen(let e)?): h = t.embedding(batch.tokens, frozen: e)
        case (nil, nil): preconditionFailure("stage \(partition.stage) needs the previous stage's hidden states")
        }
        let heads = partition.heads.count
        let kvHeads = partition.kvGroups.count
        let group = tensorGroup
        for l in layers {
            try t.beginLayer(l.index)
            let n = t.enterParallel(t.rmsNorm(h, l.attentionNorm, epsilon: c.rmsEpsilon), group: group)
            let q = t.rope(l.q.apply(t, n), heads: heads, table: table)
            let k = t.rope(l.k.apply(t, n), heads: kvHeads, table: table)
            let v = l.v.apply(t, n)
            let a = t.attention(q: q, k: k, v: v, heads: heads, kvHeads: kvHeads, length: batch.length, segmentStart: batch.segmentStart)
            h = t.add(h, try t.leaveParallel(l.o.apply(t, a), group: group))
            let n2 = t.enterParallel(t.rmsNorm(h, l.ffnNorm, epsilon: c.rmsEpsilon), group: group)
            h = t.add(h, try t.leaveParallel(l.down.apply(t, t.swiglu(l.gate.apply(t, n2), l.up.apply(t, n2))), group: group))
            try t.endLayer(l.index)
        }
        guard let outputNorm else { return h }
        let n = t.rmsNorm(h, outputNorm, epsilon: c.rmsEpsilon)
        switch output ?? embedding {
        case .trainable(let w)?: return t.linear(n, w)
        case .frozen(let w)?: return t.linear(n, frozen: w)
        case nil: preconditionFailure("the last stage holds the output projection")
        }
    }
}

extension Weight {
    /// A trainable weight's own copy (a frozen one is shared: nothing writes it).
    var copied: Weight {
        switch self {
        case .trainable(let v): return .trainable(v.copy())
        case .frozen: return self
        }
    }
}
