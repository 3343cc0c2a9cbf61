import ColonyModels
import Foundation

/// Fixture files written by scripts/reference (numpy and HF tokenizers), decoded.
enum Fixtures {
    static func url(_ name: String) -> URL {
        Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Fixtures")!
    }

    static func path(_ name: String) -> String { url(name).path }

    static func load<T: Decodable>(_ name: String, as type: T.Type) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(contentsOf: url(name)))
    }

    struct TinyForward: Decodable {
        struct Model: Decodable {
            let file: String
            let cases: [Case]
        }
        struct Case: Decodable {
            let tokens: [Int]
            let logits: [[Float]]
            let greedy: [Int]
            let greedy_margins: [Float]
        }
        let models: [Model]
    }

    struct TokenizerCases: Decodable {
        struct Case: Decodable { let text: String; let ids: [Int] }
        let cases: [Case]
    }

    struct ChatCases: Decodable {
        struct Case: Decodable {
            let messages: [ChatMessage]
            let add_generation_prompt: Bool
            let prompt: String
            let ids: [Int]
        }
        let cases: [Case]
    }

    struct Greedy: Decodable {
        struct Case: Decodable {
            let prompt: String
            let prompt_ids: [Int]
            let generated_ids: [Int]
            let margins: [Float]
        }
        let cases: [Case]
    }

    /// The real default model, when `./scripts/setup` has fetched it.
    static var realModelPath: String? {
        let env = ProcessInfo.processInfo.environment["COLONY_MODEL"]
        let candidates = [env, "models/SmolLM2-135M-Instruct.Q4_1.gguf"].compactMap { $0 }
        return candidates.first { FileManager.default.fileExists(atPath: $0) }
    }
}
