import ColonyModels
import Testing

/// Tests on the real SmolLM2-135M-Instruct (fetched by ./scripts/setup). They skip with a
/// visible message only when the model file is absent.
@Suite("SmolLM2 end to end", .enabled(if: Fixtures.realModelPath != nil, "needs the real model: run ./scripts/setup"))
struct RealModelTests {
    static func load(threads: Int = 2) throws -> (LlamaModel, Tokenizer) {
        let file = try GGUFFile(contentsOf: Fixtures.realModelPath!)
        return (try LlamaModel(gguf: file, threads: threads), try Tokenizer(gguf: file))
    }

    static let greedy = try! Fixtures.load("greedy-smollm2.json", as: Fixtures.Greedy.self)

    /// Greedy tokens from `prompt`, prefilled in one batch then decoded one by one.
    static func greedyTokens(_ model: LlamaModel, _ prompt: [Int], count: Int) throws -> [Int] {
        let cache = KVCache(config: model.config, positions: prompt.count + count)
        var logits = try model.forward(prompt.enumerated().map { BatchToken(token: $1, position: $0, wantsLogits: $0 == prompt.count - 1) }, cache: cache)[0]
        var out: [Int] = []
        for i in 0..<count {
            out.append(Sampler.argmax(logits))
            if i + 1 < count {
                logits = try model.forward([BatchToken(token: out[i], position: prompt.count + i, wantsLogits: true)], cache: cache)[0]
            }
        }
        return out
    }

    @Test("float32 greedy decoding equals the numpy reference for 40 tokens on every prompt")
    func greedyExact() throws {
        let (model, _) = try Self.load()
        model.precision = .float32
        #expect(Self.greedy.cases.count >= 4)
        for c in Self.greedy.cases {
            #expect(try Self.greedyTokens(model, c.prompt_ids, count: 40) == c.generated_ids, "\(c.prompt.suffix(40).debugDescription)")
        }
    }

    @Test("integer greedy decoding agrees until the reference's first near-tie", arguments: [
        (ActivationPrecision.int16, Float(0.005)), (.int8, 0.25),
    ])
    func greedyInteger(precision: ActivationPrecision, logitError: Float) throws {
        let (model, _) = try Self.load()
        model.precision = precision
        for c in Self.greedy.cases {
            // Quantised activations move a logit by up to `logitError`: compare up to the
            // first step whose top-2 margin is smaller than that.
            let safe = c.margins.firstIndex { $0 < logitError } ?? c.margins.count
            let got = try Self.greedyTokens(model, c.prompt_ids, count: max(safe, 1))
            #expect(Array(got.prefix(safe)) == Array(c.generated_ids.prefix(safe)), "\(c.prompt.suffix(40).debugDescription)")
        }
    }

    @Test("the prompt tokenizes to the reference ids")
    func promptIds() throws {
        let (_, tokenizer) = try Self.load(threads: 1)
        for c in Self.greedy.cases { #expect(tokenizer.encode(c.prompt) == c.prompt_ids) }
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
        let first = try generator.generate(prompt: tokenizer.encode(template.render(messages)), options: options) { streamed += $0; return true }
        #expect(first.text == "The capital of France is Paris.")
        #expect(streamed == first.text)
        #expect(first.finishReason == .stop)
        #expect(first.cachedPromptTokens == 0)

        messages.append(ChatMessage(role: "assistant", content: first.text))
        messages.append(ChatMessage(role: "user", content: "And of Italy?"))
        let prompt2 = tokenizer.encode(template.render(messages))
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
