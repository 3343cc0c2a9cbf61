import ColonyModels
import Foundation
import Testing

@testable import ColonyEngine

/// `Generator` on the real SmolLM2-135M-Instruct (fetched by ./scripts/setup); skipped with
/// a visible message only when the model file is absent.
enum RealModel {
    static var path: String? {
        let env = ProcessInfo.processInfo.environment["COLONY_MODEL"]
        return [env, "models/SmolLM2-135M-Instruct.Q4_1.gguf"].compactMap { $0 }.first { FileManager.default.fileExists(atPath: $0) }
    }
}

@Suite("Generator on SmolLM2", .enabled(if: RealModel.path != nil, "needs the real model: run ./scripts/setup"))
struct GeneratorRealModelTests {
    static func load() throws -> (LlamaModel, Tokenizer) {
        let file = try GGUFFile(contentsOf: RealModel.path!)
        return (try LlamaModel(gguf: file, threads: 2), try Tokenizer(gguf: file))
    }

    @Test("a chat answer streams, stops at the end of turn and reuses the cached prefix")
    func chatGeneration() throws {
        let (model, tokenizer) = try Self.load()
        let generator = Generator(model: model, tokenizer: tokenizer, contextLength: 512)
        let template = try ChatTemplate(gguf: model.file)
        var messages = [ChatMessage(role: "user", content: "What is the capital of France?")]
        var options = GenerationOptions()
        options.sampling = .greedy
        options.maxTokens = 40
        var streamed = ""
        let first = try generator.generate(prompt: tokenizer.encode(template.render(messages)), options: options) {
            streamed += $0
            return true
        }
        #expect(first.text == "The capital of France is Paris.")
        #expect(streamed == first.text)
        #expect(first.finishReason == .stop)
        #expect(first.cachedPromptTokens == 0)

        messages.append(ChatMessage(role: "assistant", content: first.text))
        messages.append(ChatMessage(role: "user", content: "And of Italy?"))
        let prompt2 = tokenizer.encode(try template.render(messages))
        let second = try generator.generate(prompt: prompt2, options: options)
        #expect(second.cachedPromptTokens > 37, "the first turn's prompt is reused")
        // Reusing the cache must not change the answer.
        let fresh = Generator(model: model, tokenizer: tokenizer, contextLength: 512)
        #expect(try fresh.generate(prompt: prompt2, options: options).tokens == second.tokens)
    }

    @Test("stop strings and max tokens end generation")
    func limits() throws {
        let (model, tokenizer) = try Self.load()
        let generator = Generator(model: model, tokenizer: tokenizer, contextLength: 128)
        var options = GenerationOptions()
        options.sampling = .greedy
        options.maxTokens = 5
        let prompt = tokenizer.encode("The quick brown fox")
        let short = try generator.generate(prompt: prompt, options: options)
        #expect(short.tokens.count == 5 && short.finishReason == .length)
        options.maxTokens = 40
        options.stopStrings = ["bear"]
        let stopped = try generator.generate(prompt: prompt, options: options)
        #expect(stopped.text == " with a quick brown ")
        #expect(stopped.finishReason == .stop)
    }
}
