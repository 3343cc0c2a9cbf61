import ColonyModels
import ColonyTensor
import Foundation
import Testing

@testable import ColonyTraining

enum TrainingFixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("ColonyModelsTests/Fixtures")
    static func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    struct TinyForward: Decodable {
        struct Model: Decodable {
            let file: String
            let cases: [Case]
        }
        struct Case: Decodable {
            let tokens: [Int]
            let logits: [[Float]]
        }
        let models: [Model]
    }
    static let forward = try! JSONDecoder().decode(
        TinyForward.self, from: Data(contentsOf: directory.appendingPathComponent("tiny-forward.json")))

    /// One sequence of `tokens`, every position predicting the next.
    static func batch(_ tokens: [Int]) -> TrainingBatch {
        TrainingBatch(
            tokens: tokens.map(Int32.init), positions: Array(0..<tokens.count), segmentStart: [Int32](repeating: 0, count: tokens.count),
            targets: tokens.dropFirst().map(Int32.init) + [-1], sequences: 1, length: tokens.count)
    }
}

@Suite("Trainable Llama against the numpy reference")
struct TrainableLlamaTests {
    @Test("full and LoRA models reproduce the reference logits", arguments: ["tiny-llama-tied.gguf", "tiny-llama-untied.gguf"])
    func logitsMatchReference(file: String) throws {
        let gguf = try GGUFFile(contentsOf: TrainingFixtures.path(file))
        let reference = try #require(TrainingFixtures.forward.models.first { $0.file == file })
        let lora = LoRAConfiguration(rank: 4, targets: LoRAConfiguration.allTargets)
        // Exact f32 for the full and LoRA models; the integer kernels for the frozen base are
        // near-exact (the inference model's int16 bound).
        for (model, tolerance) in [
            (try TrainableLlama(gguf: gguf), Float(1e-3)), (try TrainableLlama(gguf: gguf, lora: lora), 1e-3),
            (try TrainableLlama(gguf: gguf, lora: lora, packedRuntime: PackedRuntime(threads: 2)), 2e-3),
        ] {
            for c in reference.cases {
                let logits = try model.logits(TrainingFixtures.batch(c.tokens), tape: Tape())
                var worst: Float = 0
                for (t, expected) in c.logits.enumerated() {
                    for (j, e) in expected.enumerated() { worst = max(worst, abs(logits.value[t * logits.cols + j] - e)) }
                }
                #expect(worst < tolerance, "\(file): worst logit error \(worst)")
            }
        }
    }

    @Test("LoRA trains only the adapters and leaves the base untouched")
    func loraParameters() throws {
        let gguf = try GGUFFile(contentsOf: TrainingFixtures.path("tiny-llama-tied.gguf"))
        let model = try TrainableLlama(gguf: gguf, lora: LoRAConfiguration(rank: 2, alpha: 4, targets: ["q", "v"]))
        let names = model.parameters.map(\.name)
        #expect(names.count == 4 * model.config.blockCount)
        #expect(names.allSatisfy { $0.contains("lora_") && ($0.contains("attn_q") || $0.contains("attn_v")) })
        let tape = Tape()
        let loss = try model.loss(TrainingFixtures.batch([1, 5, 9, 3, 7]), tape: tape)
        try tape.backward(from: loss)
        // B starts at zero, so only B gets a gradient at first (dA = Bᵀ·… = 0).
        let b = try #require(model.parameters.first { $0.name.hasSuffix("lora_b") })
        #expect(b.variable.grad.contains { $0 != 0 })
        #expect(throws: TrainingError.self) { try TrainableLlama(gguf: gguf, lora: LoRAConfiguration(rank: 2, targets: ["qkv"])) }
        #expect(throws: TrainingError.self) { try TrainableLlama(gguf: gguf, lora: LoRAConfiguration(rank: 0)) }
    }
}

@Suite("Export")
struct ExportTests {
    /// A LoRA on every projection of `gguf`, trained 3 steps so its adapters are not zero.
    static func trainedLoRA(_ gguf: GGUFFile) throws -> TrainableLlama {
        let model = try TrainableLlama(gguf: gguf, lora: LoRAConfiguration(rank: 2, alpha: 4, targets: LoRAConfiguration.allTargets))
        var settings = TrainingConfiguration()
        settings.steps = 3
        settings.batchSize = 1
        settings.sequenceLength = 8
        settings.learningRate = 0.05
        let examples = [TrainingExample(tokens: [1, 5, 9, 3, 7, 2, 4, 6], trained: [Bool](repeating: true, count: 8))]
        let trainer = try Trainer(model: model, config: settings, loader: BatchLoader(examples: examples, batchSize: 1, length: 8, seed: 0))
        for _ in 0..<3 { try trainer.trainStep() }
        return model
    }

    @Test("a LoRA-trained model exports with adapters merged, and the inference model reproduces its logits")
    func mergedExport() throws {
        let gguf = try GGUFFile(contentsOf: TrainingFixtures.path("tiny-llama-tied.gguf"))
        let model = try Self.trainedLoRA(gguf)
        let tokens = [1, 5, 9, 3, 7, 2]
        let trained = try model.logits(TrainingFixtures.batch(tokens), tape: Tape())
        let base = try TrainableLlama(gguf: gguf).logits(TrainingFixtures.batch(tokens), tape: Tape())
        #expect(zip(trained.value, base.value).contains { abs($0 - $1) > 1e-3 }, "training changed the model")

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("colony-export-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for (name, tolerance) in [("f32", Float(1e-3)), ("f16", 2e-2), ("q8_0", 0.1)] {
            let path = dir.appendingPathComponent("\(name).gguf").path
            try model.export(to: path, type: TrainableLlama.exportTypes[name]!)
            let file = try GGUFFile(contentsOf: path)
            #expect(file.metadata["tokenizer.ggml.tokens"] != nil, "the tokenizer travels with the model")
            let llama = try LlamaModel(gguf: file)
            llama.precision = .float32
            let cache = KVCache(config: llama.config, positions: 16, type: .f32)
            var table = cache.wholeTable()
            let logits = try llama.forward(
                tokens.enumerated().map { BatchToken(token: $1, position: $0, wantsLogits: true) },
                cache: cache, table: &table)
            var worst: Float = 0
            for (t, row) in logits.enumerated() {
                for (j, x) in row.enumerated() { worst = max(worst, abs(x - trained.value[t * trained.cols + j])) }
            }
            #expect(worst < tolerance, "\(name): worst logit difference \(worst)")
        }
    }

    @Test(
        "the adapter alone, applied at run time on the base, equals the merged export's logits, beside a sequence on the base in one batch"
    )
    func adapterAtRunTime() throws {
        let gguf = try GGUFFile(contentsOf: TrainingFixtures.path("tiny-llama-tied.gguf"))
        let model = try Self.trainedLoRA(gguf)

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("colony-adapter-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let (mergedPath, adapterPath) = (dir.appendingPathComponent("merged.gguf").path, dir.appendingPathComponent("adapter.gguf").path)
        try model.export(to: mergedPath, type: .f32)
        try model.exportAdapter(to: adapterPath)
        let adapterFile = try GGUFFile(contentsOf: adapterPath)
        #expect(try adapterFile.string("general.type") == "adapter" && adapterFile.tensors.count == 2 * 7 * model.config.blockCount)

        func run(_ llama: LlamaModel, _ sequences: [(tokens: [Int], adapter: LoRAWeights?)]) throws -> [[Float]] {
            llama.precision = .float32
            let cache = KVCache(config: llama.config, blockCount: 2, blockSize: 16, type: .f32)
            var tables: [Int: BlockTable] = [:]
            var adapters: [Int: LoRAWeights] = [:]
            var batch: [BatchToken] = []
            for (s, sequence) in sequences.enumerated() {
                tables[s] = BlockTable(blocks: [Int32(s)], length: 0)
                adapters[s] = sequence.adapter
                batch += sequence.tokens.enumerated().map { BatchToken(token: $1, position: $0, sequence: s, wantsLogits: true) }
            }
            return try llama.forward(batch, cache: cache, tables: &tables, adapters: adapters)
        }
        let tokens = [1, 5, 9, 3, 7, 2]
        let base = try LlamaModel(gguf: gguf)
        let adapter = try LoRAWeights(gguf: adapterFile, name: "tiny@adapter", base: base.config)
        let merged = try run(LlamaModel(gguf: try GGUFFile(contentsOf: mergedPath)), [(tokens, nil)])
        let alone = try run(LlamaModel(gguf: gguf), [(tokens, nil)])
        let mixed = try run(base, [(tokens, adapter), (tokens, nil)])
        func worst(_ x: [[Float]], _ y: [[Float]]) -> Float { zip(x, y).map { zip($0, $1).map { abs($0 - $1) }.max()! }.max()! }
        #expect(worst(merged, alone) > 1e-3, "the adapter changes the model")
        #expect(worst(Array(mixed[0..<6]), merged) < 1e-4, "adapter at run time vs merged: \(worst(Array(mixed[0..<6]), merged))")
        #expect(Array(mixed[6...]) == alone, "a sequence without an adapter runs on the base alone, bit for bit")

        // An adapter for another geometry, and a model file given as an adapter, are refused by name.
        let other = try GGUFFile(contentsOf: TrainingFixtures.path("tiny-llama-untied.gguf"))
        #expect(throws: ModelError.self) { try LoRAWeights(gguf: other, name: "not-an-adapter", base: base.config) }
        var wide = base.config
        wide.feedForwardLength += 1
        #expect(throws: ModelError.self) { try LoRAWeights(gguf: adapterFile, name: "misfit", base: wide) }
    }

    @Test("training continues from an exported adapter: a fresh LoRA loaded from it is the trained model; misfits are refused by name")
    func continueFromAdapter() throws {
        let gguf = try GGUFFile(contentsOf: TrainingFixtures.path("tiny-llama-tied.gguf"))
        let trained = try Self.trainedLoRA(gguf)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("colony-init-adapter-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("adapter.gguf").path
        try trained.exportAdapter(to: path)

        let tokens = [1, 5, 9, 3, 7, 2]
        let fresh = try TrainableLlama(gguf: gguf, lora: trained.lora)
        let before = try fresh.logits(TrainingFixtures.batch(tokens), tape: Tape()).value
        try fresh.loadAdapter(from: path)
        let loaded = try fresh.logits(TrainingFixtures.batch(tokens), tape: Tape()).value
        let expected = try trained.logits(TrainingFixtures.batch(tokens), tape: Tape()).value
        #expect(zip(before, expected).contains { abs($0 - $1) > 1e-3 }, "a fresh LoRA starts at the base")
        #expect(loaded == expected, "loaded from the adapter, the model is the trained one, bit for bit")

        func refusal(_ model: TrainableLlama, _ file: String) -> String {
            do {
                try model.loadAdapter(from: file)
                return "accepted"
            } catch { return "\(error)" }
        }
        let rank4 = try TrainableLlama(gguf: gguf, lora: LoRAConfiguration(rank: 4, alpha: 4, targets: LoRAConfiguration.allTargets))
        #expect(refusal(rank4, path).contains("(--lora-rank 4)"))
        let otherAlpha = try TrainableLlama(gguf: gguf, lora: LoRAConfiguration(rank: 2, alpha: 8, targets: LoRAConfiguration.allTargets))
        #expect(refusal(otherAlpha, path).contains("pass --lora-alpha 4"))
        #expect(refusal(fresh, TrainingFixtures.path("tiny-llama-tied.gguf")).contains("is not a LoRA adapter"))
        let fewer = try TrainableLlama(gguf: gguf, lora: LoRAConfiguration(rank: 2, alpha: 4, targets: ["q", "v"]))
        #expect(refusal(fewer, path).contains("pass the adapter's --lora-targets"))
        #expect(refusal(try TrainableLlama(gguf: gguf), path).contains("needs LoRA training"))
    }
}
