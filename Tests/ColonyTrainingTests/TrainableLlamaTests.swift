@testable import ColonyTraining
import ColonyModels
import ColonyTensor
import Foundation
import Testing

enum TrainingFixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("ColonyModelsTests/Fixtures")
    static func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    struct TinyForward: Decodable {
        struct Model: Decodable { let file: String; let cases: [Case] }
        struct Case: Decodable { let tokens: [Int]; let logits: [[Float]] }
        let models: [Model]
    }
    static let forward = try! JSONDecoder().decode(TinyForward.self, from: Data(contentsOf: directory.appendingPathComponent("tiny-forward.json")))

    /// One sequence of `tokens`, every position predicting the next.
    static func batch(_ tokens: [Int]) -> TrainingBatch {
        TrainingBatch(tokens: tokens.map(Int32.init), positions: Array(0..<tokens.count), segmentStart: [Int32](repeating: 0, count: tokens.count),
                      targets: tokens.dropFirst().map(Int32.init) + [-1], sequences: 1, length: tokens.count)
    }
}

@Suite("Trainable Llama against the numpy reference")
struct TrainableLlamaTests {
    @Test("full and LoRA models reproduce the reference logits", arguments: ["tiny-llama-tied.gguf", "tiny-llama-untied.gguf"])
    func logitsMatchReference(file: String) throws {
        let gguf = try GGUFFile(contentsOf: TrainingFixtures.path(file))
        let reference = try #require(TrainingFixtures.forward.models.first { $0.file == file })
        for model in [try TrainableLlama(gguf: gguf), try TrainableLlama(gguf: gguf, lora: LoRAConfig(rank: 4, targets: LoRAConfig.allTargets))] {
            for c in reference.cases {
                let logits = model.logits(TrainingFixtures.batch(c.tokens), tape: Tape())
                var worst: Float = 0
                for (t, expected) in c.logits.enumerated() {
                    for (j, e) in expected.enumerated() { worst = max(worst, abs(logits.value[t * logits.cols + j] - e)) }
                }
                #expect(worst < 1e-3, "\(file): worst logit error \(worst)")
            }
        }
    }

    @Test("LoRA trains only the adapters and leaves the base untouched")
    func loraParameters() throws {
        let gguf = try GGUFFile(contentsOf: TrainingFixtures.path("tiny-llama-tied.gguf"))
        let model = try TrainableLlama(gguf: gguf, lora: LoRAConfig(rank: 2, alpha: 4, targets: ["q", "v"]))
        let names = model.parameters.map(\.name)
        #expect(names.count == 4 * model.config.blockCount)
        #expect(names.allSatisfy { $0.contains("lora_") && ($0.contains("attn_q") || $0.contains("attn_v")) })
        let tape = Tape()
        let loss = model.loss(TrainingFixtures.batch([1, 5, 9, 3, 7]), tape: tape)
        tape.backward(from: loss)
        // B starts at zero, so only B gets a gradient at first (dA = Bᵀ·… = 0).
        let b = try #require(model.parameters.first { $0.name.hasSuffix("lora_b") })
        #expect(b.variable.grad.contains { $0 != 0 })
        #expect(throws: TrainingError.self) { try TrainableLlama(gguf: gguf, lora: LoRAConfig(rank: 2, targets: ["qkv"])) }
        #expect(throws: TrainingError.self) { try TrainableLlama(gguf: gguf, lora: LoRAConfig(rank: 0)) }
    }
}
