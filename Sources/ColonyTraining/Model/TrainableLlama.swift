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
}

/// One projection of a block: its base weight and, with LoRA, an adapter.
public final class Projection {
    public let name: String
    public let base: Weight
    public let lora: LoRAAdapter?

    init(name: String, base: Weight, lora: LoRAAdapter?) {
        self.name = name
        self.base = base
        self.lora = lora
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
        public let attentionNorm: Variable
        public let q, k, v, o: Projection
        public let ffnNorm: Variable
        public let gate, up, down: Projection

        init(
            attentionNorm: Variable, q: Projection, k: Projection, v: Projection, o: Projection,
            ffnNorm: Variable, gate: Projection, up: Projection, down: Projection
        ) {
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
    public let embedding: Weight
    public let layers: [Layer]
    public let outputNorm: Variable
    /// `nil` when the output projection is the token embedding (tied).
    public let output: Weight?
    public let lora: LoRAConfiguration?
    /// The GGUF this model came from (its metadata is kept on export).
    public let source: GGUFFile?

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
                    attentionNorm: ones(c.embeddingLength),
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
                    attentionNorm: try norm("blk.\(i).attn_norm.weight"),
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
    }

    /// The variables being trained, with stable names (checkpoints and optimiser state use them).
    public var parameters: [(name: String, variable: Variable)] {
        var out: [(String, Variable)] = []
        func add(_ name: String, _ w: Weight?) { if case .trainable(let v)? = w { out.append((name, v)) } }
        add("token_embd.weight", embedding)
        for (i, l) in layers.enumerated() {
            if l.attentionNorm.requiresGrad { out.append(("blk.\(i).attn_norm.weight", l.attentionNorm)) }
            if l.ffnNorm.requiresGrad { out.append(("blk.\(i).ffn_norm.weight", l.ffnNorm)) }
            for p in l.projections {
                add(p.name, p.base)
                if let a = p.lora {
                    out.append((p.name.replacingOccurrences(of: ".weight", with: ".lora_a"), a.a))
                    out.append((p.name.replacingOccurrences(of: ".weight", with: ".lora_b"), a.b))
                }
            }
        }
        if outputNorm.requiresGrad { out.append(("output_norm.weight", outputNorm)) }
        add("output.weight", output)
        return out
    }

    /// Mean cross-entropy of `batch` (its loss-masked targets), recorded on `tape`.
    public func loss(_ batch: TrainingBatch, tape: Tape) -> Variable {
        tape.crossEntropy(logits(batch, tape: tape), targets: batch.targets)
    }

    /// The loss summed over `batch`'s targets, and their count, without gradients:
    /// evaluation adds these up across batches (and ranks) into a token-weighted mean.
    public func summedLoss(_ batch: TrainingBatch) -> (sum: Double, count: Int) {
        let n = batch.targetCount
        guard n > 0 else { return (0, 0) }
        return (Double(loss(batch, tape: Tape()).value[0]) * Double(n), n)
    }

    /// Logits of every row of `batch`.
    public func logits(_ batch: TrainingBatch, tape t: Tape) -> Variable {
        let c = config
        let table = RopeTable(
            positions: batch.positions, headDimension: c.headDimension, dimensions: c.ropeDimensions,
            base: c.ropeFreqBase, scale: c.ropeScale)
        var h: Variable
        switch embedding {
        case .trainable(let e): h = t.embedding(batch.tokens, e)
        case .frozen(let e): h = t.embedding(batch.tokens, frozen: e)
        }
        for l in layers {
            let n = t.rmsNorm(h, l.attentionNorm, epsilon: c.rmsEpsilon)
            let q = t.rope(l.q.apply(t, n), heads: c.headCount, table: table)
            let k = t.rope(l.k.apply(t, n), heads: c.kvHeadCount, table: table)
            let v = l.v.apply(t, n)
            let a = t.attention(
                q: q, k: k, v: v, heads: c.headCount, kvHeads: c.kvHeadCount, length: batch.length, segmentStart: batch.segmentStart)
            h = t.add(h, l.o.apply(t, a))
            let n2 = t.rmsNorm(h, l.ffnNorm, epsilon: c.rmsEpsilon)
            h = t.add(h, l.down.apply(t, t.swiglu(l.gate.apply(t, n2), l.up.apply(t, n2))))
        }
        let n = t.rmsNorm(h, outputNorm, epsilon: c.rmsEpsilon)
        switch output ?? embedding {
        case .trainable(let w): return t.linear(n, w)
        case .frozen(let w): return t.linear(n, frozen: w)
        }
    }
}
