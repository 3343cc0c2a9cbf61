import ColonyKernels
import ColonyTensor

/// A LoRA adapter in llama.cpp's GGUF adapter format, applied at run time on top of a base
/// model's frozen weights: `y = W·x + scale · B·(A·x)` for every projection it adapts, with
/// `scale = alpha / rank` as llama.cpp computes it.
///
/// The file holds `general.type = adapter`, `adapter.type = lora`, `adapter.lora.alpha` and,
/// per adapted projection, `<base tensor>.lora_a` (GGUF shape [in, rank]: rank rows of `in`)
/// and `<base tensor>.lora_b` (shape [rank, out]). Several adapters can serve on one base at
/// once, each request choosing its own (`LlamaModel.forward(…, adapters:)`); an adapter is
/// immutable, so a request in flight keeps the one it started with while a newer one is
/// swapped in for the next requests.
///
/// ```swift
/// let adapter = try LoRAWeights(gguf: try GGUFFile(contentsOf: "adapter.gguf"), name: "chat@v1a2b", base: model.config)
/// let logits = try model.forward(batch, cache: cache, tables: &tables, adapters: [0: adapter])
/// ```
public final class LoRAWeights: Sendable {
    /// The projections an adapter may change, by their GGUF tensor names.
    public enum Target: String, CaseIterable, Sendable {
        case query = "attn_q"
        case key = "attn_k"
        case value = "attn_v"
        case output = "attn_output"
        case gate = "ffn_gate"
        case up = "ffn_up"
        case down = "ffn_down"
    }

    /// `A` (rank rows of the projection's input width) and `B` (output rows of rank).
    struct Pair: Sendable {
        let a: Tensor
        let b: Tensor
        var rank: Int { a.rowCount }
    }

    /// What the adapter is known as: its registry version, which also salts the prefix cache
    /// so its requests never share KV blocks with the base's or another adapter's.
    public let name: String
    public let alpha: Float
    /// The rank of the adapter's factors (the largest if they differ).
    public let rank: Int
    /// Per layer, the adapted projections.
    let layers: [[Target: Pair]]
    /// Keeps the mapped tensors alive.
    private let file: GGUFFile

    /// Reads an adapter and checks it against the base model it will run on.
    /// - Throws: `ModelError.invalidAdapter` naming what does not fit.
    public init(gguf: GGUFFile, name: String, base config: LlamaConfiguration) throws(ModelError) {
        func fail(_ why: String) -> ModelError { .invalidAdapter(name: name, why) }
        guard (try? gguf.string("general.type")) == "adapter", (try? gguf.string("adapter.type")) == "lora" else {
            throw fail("it is not a LoRA adapter (general.type must be 'adapter' and adapter.type 'lora', as llama.cpp writes them)")
        }
        let architecture = try? gguf.string("general.architecture")
        guard architecture == nil || architecture == config.architecture.rawValue else {
            throw fail("it was made for a '\(architecture!)' model; the base is '\(config.architecture.rawValue)'")
        }
        let widths: [Target: (in: Int, out: Int)] = [
            .query: (config.embeddingLength, config.queryDimension), .key: (config.embeddingLength, config.kvDimension),
            .value: (config.embeddingLength, config.kvDimension), .output: (config.queryDimension, config.embeddingLength),
            .gate: (config.embeddingLength, config.feedForwardLength), .up: (config.embeddingLength, config.feedForwardLength),
            .down: (config.feedForwardLength, config.embeddingLength),
        ]
        var layers = [[Target: Pair]](repeating: [:], count: config.blockCount)
        for tensor in gguf.tensors {
            guard tensor.name.hasSuffix(".weight.lora_a") else {
                guard tensor.name.hasSuffix(".weight.lora_b") else { throw fail("unexpected tensor '\(tensor.name)'") }
                continue
            }
            let base = String(tensor.name.dropLast(".lora_a".count))
            let parts = base.split(separator: ".")
            guard parts.count == 4, parts[0] == "blk", let layer = Int(parts[1]), (0..<config.blockCount).contains(layer),
                let target = Target(rawValue: String(parts[2]))
            else { throw fail("'\(tensor.name)' names no projection this runtime adapts (\(Target.allCases.map(\.rawValue)))") }
            guard let b = gguf.tensor(base + ".lora_b") else { throw fail("'\(tensor.name)' has no matching '\(base).lora_b'") }
            let (inWidth, outWidth) = widths[target]!
            guard tensor.shape.count == 2, b.shape.count == 2, tensor.shape[0] == inWidth, b.shape[1] == outWidth,
                tensor.shape[1] == b.shape[0]
            else {
                throw fail(
                    "'\(base)' has lora_a \(tensor.shape) and lora_b \(b.shape); the base needs [\(inWidth), r] and [r, \(outWidth)]")
            }
            for t in [tensor, b] {
                do { try t.validateComputable() } catch { throw .tensor(error) }
            }
            layers[layer][target] = Pair(a: tensor, b: b)
        }
        guard let rank = layers.flatMap(\.values).map(\.rank).max() else { throw fail("it holds no lora_a/lora_b pairs") }
        let alpha = (try? gguf.double("adapter.lora.alpha")).map(Float.init) ?? 0
        guard alpha >= 0 else { throw fail("adapter.lora.alpha is \(alpha); it must be ≥ 0") }
        self.name = name
        self.alpha = alpha
        self.rank = rank
        self.layers = layers
        file = gguf
    }

    /// Adds this adapter's update to `rows` rows of `output` (each `outStride` floats apart)
    /// from the matching rows of `input` (`inStride` apart), for one projection of one layer.
    func add(
        _ target: Target, layer: Int, input: UnsafePointer<Float>, inStride: Int, output: UnsafeMutablePointer<Float>, outStride: Int,
        rows: [Int]
    ) {
        guard let pair = layers[layer][target], !rows.isEmpty else { return }
        // llama.cpp's rule: alpha 0 means "no scaling", otherwise alpha / rank.
        let scale = alpha == 0 ? 1 : alpha / Float(pair.rank)
        let (a, b) = (pair.a, pair.b)
        var hidden = [Float](repeating: 0, count: pair.rank)
        for row in rows {
            let x = input + row * inStride
            for r in 0..<pair.rank {
                hidden[r] = scale * ck_dot_f32(Int32(a.dtype.rawValue), a.data + r * a.rowBytes, x, Int64(a.rowLength))
            }
            let y = output + row * outStride
            for o in 0..<b.rowCount {
                y[o] += ck_dot_f32(Int32(b.dtype.rawValue), b.data + o * b.rowBytes, hidden, Int64(pair.rank))
            }
        }
    }
}

extension LoRAWeights: Equatable {
    /// The same loaded adapter (two loads of one file are two adapters).
    public static func == (lhs: LoRAWeights, rhs: LoRAWeights) -> Bool { lhs === rhs }
}
