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
        var table = cache.wholeTable()
        var logits = try model.forward(
            prompt.enumerated().map { BatchToken(token: $1, position: $0, wantsLogits: $0 == prompt.count - 1) },
            cache: cache, table: &table)[0]
        var out: [Int] = []
        for i in 0..<count {
            out.append(Sampler.argmax(logits))
            if i + 1 < count {
                logits = try model.forward(
                    [BatchToken(token: out[i], position: prompt.count + i, wantsLogits: true)], cache: cache, table: &table)[0]
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
            #expect(try Self.greedyTokens(model, c.promptIds, count: 40) == c.generatedIds, "\(c.prompt.suffix(40).debugDescription)")
        }
    }

    @Test(
        "integer greedy decoding agrees until the reference's first near-tie",
        arguments: [
            (ActivationPrecision.int16, Float(0.005)), (.int8, 0.25),
        ])
    func greedyInteger(precision: ActivationPrecision, logitError: Float) throws {
        let (model, _) = try Self.load()
        model.precision = precision
        for c in Self.greedy.cases {
            // Quantised activations move a logit by up to `logitError`: compare up to the
            // first step whose top-2 margin is smaller than that.
            let safe = c.margins.firstIndex { $0 < logitError } ?? c.margins.count
            let got = try Self.greedyTokens(model, c.promptIds, count: max(safe, 1))
            #expect(Array(got.prefix(safe)) == Array(c.generatedIds.prefix(safe)), "\(c.prompt.suffix(40).debugDescription)")
        }
    }

    @Test("the prompt tokenizes to the reference ids")
    func promptIds() throws {
        let (_, tokenizer) = try Self.load(threads: 1)
        for c in Self.greedy.cases { #expect(tokenizer.encode(c.prompt) == c.promptIds) }
    }
}
