import ColonyModels
import Foundation

/// Fixture files written by scripts/reference (numpy and HF tokenizers), decoded.
enum Fixtures {
    static func url(_ name: String) -> URL {
        Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Fixtures")!
    }

    static func path(_ name: String) -> String { url(name).path }

    static func load<T: Decodable>(_ name: String, as type: T.Type) throws -> T {
        // The fixtures are written by Python with snake_case keys.
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(T.self, from: Data(contentsOf: url(name)))
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
            let greedyMargins: [Float]
        }
        let models: [Model]
    }

    struct TokenizerCases: Decodable {
        struct Case: Decodable {
            let text: String
            let ids: [Int]
        }
        let cases: [Case]
    }

    struct ChatCases: Decodable {
        struct Case: Decodable {
            let messages: [ChatMessage]
            let addGenerationPrompt: Bool
            let prompt: String
            let ids: [Int]
        }
        let cases: [Case]
    }

    struct Greedy: Decodable {
        struct Case: Decodable {
            let prompt: String
            let promptIds: [Int]
            let generatedIds: [Int]
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
