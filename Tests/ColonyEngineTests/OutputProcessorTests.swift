import ColonyEngine
import ColonyModels
import Testing

/// The output side alone: hand-made logits, no model.
@Suite("Output processor")
struct OutputProcessorTests {
    /// A processor over the tiny tokenizer whose events land in `events`.
    final class Harness {
        let processor: OutputProcessor
        var events: [EngineEvent] = []
        let tokenizer: Tokenizer

        init(contextLimit: Int = 64) throws {
            tokenizer = try Tiny.load().1
            processor = OutputProcessor(tokenizer: tokenizer, contextLimit: contextLimit)
        }

        func add(_ request: EngineRequest) throws {
            try processor.add(request) { [unowned self] in self.events.append($0) }
        }

        /// Logits that make `token` the greedy choice, `runnerUp` the next.
        func logits(favouring token: Int, then runnerUp: Int) -> [Float] {
            var l = [Float](repeating: 0, count: tokenizer.vocabularySize)
            l[token] = 10
            l[runnerUp] = 5
            return l
        }
    }

    @Test("the model's end token stops a request, unless ignore_eos masks it")
    func ignoreEOS() throws {
        let h = try Harness()
        let eos = try #require(h.tokenizer.endOfTurnTokens.min())
        try h.add(EngineRequest(id: "a", promptTokens: [5], maxTokens: 4))
        #expect(
            h.processor.sample("a", logits: h.logits(favouring: eos, then: 65), history: [5]) == SampleOutcome(token: nil, finish: .stop))
        try h.add(EngineRequest(id: "b", promptTokens: [5], maxTokens: 4, ignoreEOS: true))
        #expect(h.processor.sample("b", logits: h.logits(favouring: eos, then: 65), history: [5]) == SampleOutcome(token: 65, finish: nil))
    }

    @Test("max tokens and a full context end a request with the token that reached them")
    func limits() throws {
        let h = try Harness(contextLimit: 3)
        try h.add(EngineRequest(id: "a", promptTokens: [5], maxTokens: 1, stopTokens: [-1]))
        #expect(
            h.processor.sample("a", logits: h.logits(favouring: 65, then: 66), history: [5]) == SampleOutcome(token: 65, finish: .length))
        try h.add(EngineRequest(id: "b", promptTokens: [5, 6], maxTokens: 8, stopTokens: [-1]))
        #expect(
            h.processor.sample("b", logits: h.logits(favouring: 65, then: 66), history: [5, 6])
                == SampleOutcome(token: 65, finish: .contextFull))
        h.processor.finish("b", .contextFull, cachedPromptTokens: 1)
        #expect(
            h.events.last == .finished(.contextFull, Usage(promptTokens: 2, completionTokens: 1, cachedPromptTokens: 1), trailingText: ""))
        #expect(h.processor.stats.finished == ["context_full": 1])
    }
}
