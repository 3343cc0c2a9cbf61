import ColonyModels
import Testing

@testable import ColonyEngine

@Suite("A request resumed after some of its tokens (migration)")
struct ResumedRequestTests {
    static func sampling(_ temperature: Float) -> SamplingParameters {
        var s = SamplingParameters.greedy
        s.temperature = temperature
        s.topK = 20
        s.topP = 0.9
        s.minP = 0
        s.repetitionPenalty = 1.3
        s.seed = 42
        return s
    }

    /// Runs `request` undisturbed, then again resumed after `k` of its tokens (as a router
    /// sends it to a second worker), and returns both outputs.
    static func both(_ request: EngineRequest, after k: Int) async throws -> (whole: [Int], resumed: [Int], reason: FinishReason?) {
        let engine = try Tiny.engine()
        let whole = try await Outcome.collect(try engine.submit(request))
        var moved = request
        moved.id = request.id + "-moved"
        moved.promptTokens += whole.tokens.prefix(k)
        moved.resumedTokens = k
        moved.maxTokens -= k
        moved.minTokens = max(0, request.minTokens - k)
        let rest = try await Outcome.collect(try engine.submit(moved))
        await engine.shutdown()
        #expect(rest.reason == whole.reason)
        return (whole.tokens, Array(whole.tokens.prefix(k)) + rest.tokens, rest.reason)
    }

    @Test("greedy and seeded sampling with penalties continue exactly as undisturbed", arguments: [Float(0), 0.9])
    func sampled(_ temperature: Float) async throws {
        for k in [1, 5, 13] {
            let r = EngineRequest(
                id: "r", promptTokens: Tiny.prompt(3, 9), sampling: Self.sampling(temperature), maxTokens: 20, stopTokens: [-1])
            let (whole, resumed, _) = try await Self.both(r, after: k)
            #expect(whole.count == 20)
            #expect(resumed == whole, "resumed after \(k)")
        }
    }

    @Test("without the sampler's position a seeded request would diverge: the position matters")
    func positionMatters() async throws {
        let r = EngineRequest(id: "r", promptTokens: Tiny.prompt(3, 9), sampling: Self.sampling(0.9), maxTokens: 20, stopTokens: [-1])
        let engine = try Tiny.engine()
        let whole = try await Outcome.collect(try engine.submit(r))
        var naive = r
        naive.id = "naive"
        naive.promptTokens += whole.tokens.prefix(5)
        naive.maxTokens = 15
        let rest = try await Outcome.collect(try engine.submit(naive))
        await engine.shutdown()
        #expect(rest.tokens != Array(whole.tokens.dropFirst(5)))
    }

    @Test("a JSON-constrained request resumed mid-object ends with the same valid object")
    func constrained() async throws {
        var r = EngineRequest(id: "j", promptTokens: Tiny.prompt(5, 7), sampling: Self.sampling(0.7), maxTokens: 40, stopTokens: [-1])
        r.constraint = .jsonObject
        let (whole, resumed, _) = try await Self.both(r, after: 3)
        #expect(resumed == whole)
    }

    @Test("resumed_tokens must leave at least one prompt token of the client's own")
    func validated() {
        var r = EngineRequest(id: "v", promptTokens: [5, 6, 7])
        r.resumedTokens = 3
        #expect(throws: EngineError.self) { try r.validate(vocabularySize: 1000, contextLimit: 100) }
        r.resumedTokens = 2
        #expect(throws: Never.self) { try r.validate(vocabularySize: 1000, contextLimit: 100) }
    }
}
