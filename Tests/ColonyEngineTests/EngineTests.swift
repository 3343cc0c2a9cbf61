import ColonyModels
import Foundation
import Testing

@testable import ColonyEngine

enum Tiny {
    static let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../ColonyModelsTests/Fixtures/tiny-llama-tied.gguf").standardized.path

    static func load() throws -> (LlamaModel, Tokenizer) {
        let file = try GGUFFile(contentsOf: path)
        return (try LlamaModel(gguf: file, threads: 1), try Tokenizer(gguf: file))
    }

    static func engine(_ edit: (inout EngineConfiguration) -> Void = { _ in }) throws -> Engine {
        let (model, tokenizer) = try load()
        var c = EngineConfiguration()
        edit(&c)
        return try Engine(model: model, tokenizer: tokenizer, configuration: c)
    }

    /// A deterministic prompt of `n` ordinary tokens.
    static func prompt(_ seed: Int, _ n: Int) -> [Int] { (0..<n).map { 3 + (seed * 31 + $0 * 17) % 300 } }

    /// Requests that never stop early: no stop tokens a tiny model could emit.
    static func request(_ id: String, _ prompt: [Int], max: Int = 12, priority: Int = 0) -> EngineRequest {
        EngineRequest(id: id, promptTokens: prompt, maxTokens: max, stopTokens: [-1], priority: priority)
    }
}

/// The engine's stats once it has published an idle state (streams end a moment before
/// the engine thread publishes the step that ended them).
func settledStats(_ engine: Engine) async throws -> EngineStats {
    for _ in 0..<200 {
        let s = engine.stats
        if s.running == 0 && s.waiting == 0 { return s }
        try await Task.sleep(for: .milliseconds(10))
    }
    return engine.stats
}

/// Collects a stream: tokens, text and how it ended.
struct Outcome: Equatable {
    var tokens: [Int] = []
    var text = ""
    var reason: FinishReason?
    var usage: Usage?

    static func collect(_ stream: AsyncThrowingStream<EngineEvent, Error>) async throws -> Outcome {
        var o = Outcome()
        for try await event in stream {
            switch event {
            case .token(let id, let text):
                o.tokens.append(id)
                o.text += text
            case .finished(let reason, let usage, let tail):
                o.reason = reason
                o.usage = usage
                o.text += tail
            }
        }
        return o
    }
}

@Suite("Engine", .serialized)
struct EngineTests {
    @Test("a request alone decodes the reference's greedy tokens")
    func matchesReference() async throws {
        let engine = try Tiny.engine()
        // tiny-forward.json: tokens [65] continue greedily with these 12.
        let o = try await Outcome.collect(try engine.submit(Tiny.request("a", [65])))
        #expect(o.tokens == [28, 107, 107, 107, 14, 61, 87, 132, 77, 306, 107, 107])
        #expect(o.reason == .length)
        #expect(o.usage == Usage(promptTokens: 1, completionTokens: 12, cachedPromptTokens: 0))
        await engine.shutdown()
    }

    @Test("greedy output is the same alone and in a batch of 32")
    func batchDeterminism() async throws {
        let prompts = (0..<32).map { Tiny.prompt($0, 5 + $0 % 13) }
        var alone: [[Int]] = []
        let single = try Tiny.engine()
        for (i, p) in prompts.enumerated() {
            alone.append(try await Outcome.collect(try single.submit(Tiny.request("s\(i)", p, max: 16))).tokens)
        }
        await single.shutdown()

        let batched = try Tiny.engine { $0.maxBatch = 32 }
        let streams = try prompts.enumerated().map { i, p in try batched.submit(Tiny.request("b\(i)", p, max: 16)) }
        var together: [[Int]] = []
        for s in streams { together.append(try await Outcome.collect(s).tokens) }
        #expect(together == alone)
        #expect(try await settledStats(batched).steps < 32 * 16, "requests shared steps")
        await batched.shutdown()
    }

    @Test("a long prompt is prefilled in chunks under the token budget, with the same result")
    func chunkedPrefill() async throws {
        let prompt = Tiny.prompt(3, 50)
        let whole = try Tiny.engine()
        let expected = try await Outcome.collect(try whole.submit(Tiny.request("w", prompt, max: 8))).tokens
        await whole.shutdown()
        let chunked = try Tiny.engine { $0.tokenBudget = 8 }
        #expect(try await Outcome.collect(try chunked.submit(Tiny.request("c", prompt, max: 8))).tokens == expected)
        // 50 prompt tokens at 8 a step take 7 steps, then one step per further token.
        #expect(try await settledStats(chunked).steps == 7 + 7)
        await chunked.shutdown()
    }

    @Test("a shared prefix is computed once and reused from the cache")
    func prefixCache() async throws {
        let engine = try Tiny.engine { $0.blockSize = 16 }
        let system = Tiny.prompt(7, 50)  // three full blocks and a bit
        let first = try await Outcome.collect(try engine.submit(Tiny.request("1", system + [10, 11])))
        let second = try await Outcome.collect(try engine.submit(Tiny.request("2", system + [12, 13])))
        #expect(first.usage?.cachedPromptTokens == 0)
        #expect(second.usage?.cachedPromptTokens == 48)
        let fresh = try Tiny.engine()
        #expect(try await Outcome.collect(try fresh.submit(Tiny.request("3", system + [12, 13]))).tokens == second.tokens)
        #expect(try await settledStats(engine).prefixCacheHitRate > 0.4)
        await engine.shutdown()
        await fresh.shutdown()
    }

    @Test("when blocks run out requests are preempted and recomputed, never dropped or repeated")
    func preemption() async throws {
        let prompts = (0..<6).map { Tiny.prompt($0, 10) }
        let reference = try Tiny.engine()
        var expected: [[Int]] = []
        for (i, p) in prompts.enumerated() {
            expected.append(try await Outcome.collect(try reference.submit(Tiny.request("r\(i)", p, max: 20))).tokens)
        }
        await reference.shutdown()

        // 6 requests × 30 tokens need 48 blocks of 4; the pool has 16.
        let tight = try Tiny.engine {
            $0.kvBlocks = 16
            $0.blockSize = 4
            $0.maxBatch = 6
        }
        let streams = try prompts.enumerated().map { i, p in try tight.submit(Tiny.request("t\(i)", p, max: 20)) }
        var got: [[Int]] = []
        for s in streams { got.append(try await Outcome.collect(s).tokens) }
        #expect(got == expected)
        let stats = try await settledStats(tight)
        #expect(stats.preemptions > 0)
        #expect(stats.kvBlocksUsed == 0)
        await tight.shutdown()
    }

    @Test("cancelling frees the request's blocks")
    func cancellation() async throws {
        let engine = try Tiny.engine()
        let stream = try engine.submit(Tiny.request("c", Tiny.prompt(1, 8), max: 10_000))
        var seen = 0
        var reason: FinishReason?
        for try await event in stream {
            if case .token = event {
                seen += 1
                if seen == 3 { engine.cancel("c") }
            }
            if case .finished(let r, _, _) = event { reason = r }
        }
        #expect(reason == .cancelled)
        #expect(seen >= 3 && seen < 10_000)
        let stats = try await settledStats(engine)
        #expect(stats.kvBlocksUsed == 0)
        #expect(stats.running == 0)
        await engine.shutdown()
    }

    @Test("1,000 requests with random cancellations and disconnects leave every block free")
    func soak() async throws {
        let engine = try Tiny.engine {
            $0.maxBatch = 32
            $0.kvBlocks = 128
            $0.blockSize = 8
            $0.maxQueue = 1000
        }
        var rng = SystemRandomNumberGenerator()
        let outcomes = try await withThrowingTaskGroup(of: FinishReason?.self) { group in
            for i in 0..<1000 {
                let request = Tiny.request("soak\(i)", Tiny.prompt(i, 1 + i % 40), max: 1 + i % 24)
                let stream = try engine.submit(request)
                let mode = Int.random(in: 0..<10, using: &rng)
                group.addTask {
                    var reason: FinishReason?
                    var count = 0
                    for try await event in stream {
                        count += 1
                        if mode == 0, count == 2 { engine.cancel(request.id) }
                        if mode == 1, count == 3 { return nil }  // disconnect: drop the stream
                        if case .finished(let r, _, _) = event { reason = r }
                    }
                    return reason
                }
            }
            var all: [FinishReason?] = []
            for try await r in group { all.append(r) }
            return all
        }
        #expect(outcomes.count == 1000)
        // Dropped streams are cancelled at the next step.
        let stats = try await settledStats(engine)
        #expect(stats.running == 0 && stats.waiting == 0)
        #expect(stats.kvBlocksUsed == 0)
        #expect(stats.kvBlocksFree == 128)
        #expect(stats.finished.values.reduce(0, +) == 1000)
        await engine.shutdown()
    }

    @Test("a full queue and invalid requests are refused and change nothing")
    func refusals() async throws {
        let engine = try Tiny.engine {
            $0.maxQueue = 1
            $0.maxBatch = 1
        }
        #expect(throws: EngineError.invalidRequest("the prompt is empty")) { try engine.submit(Tiny.request("e", [])) }
        #expect(throws: EngineError.invalidRequest("token id 999 is outside the vocabulary 0..<320")) {
            try engine.submit(Tiny.request("v", [999]))
        }
        #expect(throws: EngineError.invalidRequest("max_tokens must be > 0, got 0")) { try engine.submit(Tiny.request("m", [5], max: 0)) }
        #expect(throws: EngineError.promptTooLong(tokens: 300, limit: 256)) { try engine.submit(Tiny.request("l", Tiny.prompt(1, 300))) }
        let long = try engine.submit(Tiny.request("long", [5], max: 200))
        #expect(throws: EngineError.duplicateID("long")) { try engine.submit(Tiny.request("long", [5])) }
        // One running, then one queued; the next is refused.
        var refused = false
        var accepted: [AsyncThrowingStream<EngineEvent, Error>] = []
        for i in 0..<5 {
            do { accepted.append(try engine.submit(Tiny.request("q\(i)", [5], max: 2))) } catch {
                #expect(error == .queueFull(limit: 1))
                refused = true
            }
        }
        #expect(refused)
        #expect(try await Outcome.collect(long).tokens.count == 200)
        for s in accepted { #expect(try await Outcome.collect(s).reason == .length) }
        await engine.shutdown()
    }

    @Test("shutdown finishes the requests in flight, then refuses new ones")
    func shutdown() async throws {
        let engine = try Tiny.engine()
        let stream = try engine.submit(Tiny.request("s", [5], max: 30))
        await engine.shutdown()
        #expect(try await Outcome.collect(stream).tokens.count == 30)
        #expect(throws: EngineError.shuttingDown) { try engine.submit(Tiny.request("t", [5])) }
    }
}

@Suite("Engine request options")
struct EngineOptionTests {
    @Test("min_tokens keeps stop tokens out until that many tokens are generated")
    func minTokens() async throws {
        let engine = try Tiny.engine()
        // Greedy from [65] is 28, 107, …: with 107 as a stop token it ends after one token.
        var r = EngineRequest(id: "a", promptTokens: [65], maxTokens: 12, stopTokens: [107])
        let plain = try await Outcome.collect(try engine.submit(r))
        #expect(plain.tokens == [28] && plain.reason == .stop)
        r.id = "b"
        r.minTokens = 4
        let held = try await Outcome.collect(try engine.submit(r))
        #expect(held.tokens.count >= 4)
        #expect(!held.tokens.prefix(4).contains(107))
        #expect(held.usage?.completionTokens == held.tokens.count)
        r.id = "c"
        r.minTokens = 13
        #expect(throws: EngineError.invalidRequest("min_tokens must be between 0 and max_tokens (12), got 13")) { try engine.submit(r) }
        await engine.shutdown()
    }

    @Test("with KV events on, the engine announces the prefix blocks it caches")
    func kvEvents() async throws {
        let engine = try Tiny.engine { $0.publishesKVEvents = true }
        let prompt = Tiny.prompt(7, 40)
        _ = try await Outcome.collect(try engine.submit(Tiny.request("a", prompt, max: 4)))
        let hashes = PrefixHash.blocks(of: prompt, blockSize: 16)
        var events: [KVEvent] = []
        for await event in engine.kvEvents {
            events.append(event)
            if events.count == 2 { break }
        }
        #expect(
            events == [
                .stored(hashes: [hashes[0]], parent: nil, blockSize: 16),
                .stored(hashes: [hashes[1]], parent: hashes[0], blockSize: 16),
            ])
        await engine.shutdown()
    }
}
