import ColonyModels
import ColonyTensor

extension TrainableLlama {
    /// Tensor types a trained model can be written in.
    public static let exportTypes: [String: DType] = ["f32": .f32, "f16": .f16, "q8_0": .q8_0, "q4_1": .q4_1]

    /// Writes the model as a GGUF that `colony generate` and `colony serve` load: LoRA
    /// adapters merged into their base weights, matrices in `type`, norms in F32.
    ///
    /// The metadata (tokenizer, chat template, hyper-parameters) is copied from the GGUF
    /// the model was loaded from; a model made from a bare config gets the `llama.*` keys
    /// only. A matrix whose rows do not fit `type`'s blocks is written in F32.
    public func export(to path: String, type: DType) throws {
        guard partition.isWhole, let embedding, let outputNorm else {
            throw TrainingError.invalidModel("only a whole model can be exported; gather the pipeline and tensor-parallel parts first")
        }
        var writer = GGUFWriter()
        if let source {
            for key in source.keys { writer.set(key, source.metadata[key]!) }
        } else {
            let c = config
            writer.set("general.architecture", .string("llama"))
            for (key, value) in [
                ("context_length", c.contextLength), ("embedding_length", c.embeddingLength), ("block_count", c.blockCount),
                ("feed_forward_length", c.feedForwardLength), ("attention.head_count", c.headCount),
                ("attention.head_count_kv", c.kvHeadCount), ("rope.dimension_count", c.ropeDimensions), ("vocab_size", c.vocabularySize),
            ] {
                writer.set("llama.\(key)", .uint32(UInt32(value)))
            }
            writer.set("llama.rope.freq_base", .float32(c.ropeFreqBase))
            writer.set("llama.attention.layer_norm_rms_epsilon", .float32(c.rmsEpsilon))
        }
        // llama.cpp's file-type codes: what the bulk of the tensors is.
        let fileType: [DType: UInt32] = [.f32: 0, .f16: 1, .q4_1: 3, .q8_0: 7]
        writer.set("general.file_type", .uint32(fileType[type] ?? 0))

        func matrix(_ name: String, _ values: [Float], rows: Int, cols: Int) throws -> Tensor {
            let dtype = cols % type.blockElements == 0 ? type : .f32
            return try Tensor.quantizing(values, name: name, shape: [cols, rows], as: dtype)
        }
        func vector(_ name: String, _ v: Variable) throws -> Tensor {
            try Tensor.quantizing(v.value, name: name, shape: [v.count], as: .f32)
        }
        writer.add(try matrix("token_embd.weight", embedding.floats, rows: embedding.rows, cols: embedding.cols))
        for l in layers {
            writer.add(try vector("blk.\(l.index).attn_norm.weight", l.attentionNorm))
            writer.add(try vector("blk.\(l.index).ffn_norm.weight", l.ffnNorm))
            for p in l.projections { writer.add(try matrix(p.name, p.merged(), rows: p.base.rows, cols: p.base.cols)) }
        }
        writer.add(try vector("output_norm.weight", outputNorm))
        if let output { writer.add(try matrix("output.weight", output.floats, rows: output.rows, cols: output.cols)) }
        try writer.write(to: path)
    }
}

extension TrainableLlama {
    /// Writes the LoRA adapters alone as a GGUF adapter file in llama.cpp's format
    /// (`general.type = adapter`, `adapter.lora.alpha`, `<tensor>.lora_a` [in, rank] and
    /// `<tensor>.lora_b` [rank, out] in F32), which `colony serve` applies at run time on
    /// the base it was trained from and `llama-server --lora` reads as well.
    public func exportAdapter(to path: String) throws {
        guard partition.isWhole else {
            throw TrainingError.invalidModel(
                "only a whole model's adapter can be exported; gather the pipeline and tensor-parallel parts first")
        }
        guard let lora else { throw TrainingError.invalidModel("the model was trained without LoRA, so it has no adapter to export") }
        var writer = GGUFWriter()
        writer.set("general.architecture", .string(config.architecture.rawValue))
        writer.set("general.type", .string("adapter"))
        writer.set("adapter.type", .string("lora"))
        writer.set("adapter.lora.alpha", .float32(lora.alpha))
        for l in layers {
            for p in l.projections {
                guard let adapter = p.lora else { continue }
                writer.add(
                    try Tensor.quantizing(adapter.a.value, name: p.name + ".lora_a", shape: [adapter.a.cols, adapter.a.rows], as: .f32))
                writer.add(
                    try Tensor.quantizing(adapter.b.value, name: p.name + ".lora_b", shape: [adapter.b.cols, adapter.b.rows], as: .f32))
            }
        }
        try writer.write(to: path)
    }
}

extension TrainableLlama {
    /// Starts the LoRA adapters from a GGUF adapter file (`exportAdapter`'s format, or
    /// llama.cpp's) instead of from zero: training continues a version already serving.
    ///
    /// The file must hold a pair for every adapted projection, of this run's rank, and its
    /// alpha must equal this run's (the scale alpha/rank is fixed when the model is built).
    public func loadAdapter(from path: String) throws {
        guard let lora else { throw TrainingError.invalidModel("--init-adapter needs LoRA training (--lora-rank > 0)") }
        let file: GGUFFile
        do { file = try GGUFFile(contentsOf: path) } catch {
            throw TrainingError.invalidModel("cannot read adapter '\(path)': \(error)")
        }
        guard (try? file.string("general.type")) == "adapter" else {
            throw TrainingError.invalidModel("'\(path)' is not a LoRA adapter (general.type is not 'adapter')")
        }
        if let alpha = try? file.double("adapter.lora.alpha"), Float(alpha) != lora.alpha {
            throw TrainingError.invalidModel(
                "adapter '\(path)' has LoRA alpha \(alpha), this run \(lora.alpha); pass --lora-alpha \(alpha)")
        }
        var used = 0
        for l in layers {
            for p in l.projections {
                guard let adapter = p.lora else { continue }
                used += 2
                for (suffix, variable) in [(".lora_a", adapter.a), (".lora_b", adapter.b)] {
                    guard let tensor = file.tensor(p.name + suffix) else {
                        throw TrainingError.invalidModel(
                            "adapter '\(path)' has no '\(p.name + suffix)'; it must adapt the same targets (--lora-targets)")
                    }
                    guard tensor.shape == [variable.cols, variable.rows] else {
                        throw TrainingError.invalidModel(
                            "adapter '\(path)': '\(p.name + suffix)' is \(tensor.shape), this run needs \([variable.cols, variable.rows]) "
                                + "(--lora-rank \(lora.rank))")
                    }
                    variable.value = tensor.dequantized()
                }
            }
        }
        // Pairs this run does not adapt would be dropped silently: a different model.
        let pairs = file.tensors.filter { $0.name.hasSuffix(".lora_a") || $0.name.hasSuffix(".lora_b") }.count
        guard pairs == used else {
            throw TrainingError.invalidModel(
                "adapter '\(path)' adapts more projections than this run (\(pairs / 2) pairs, this run \(used / 2)); "
                    + "pass the adapter's --lora-targets")
        }
    }
}
