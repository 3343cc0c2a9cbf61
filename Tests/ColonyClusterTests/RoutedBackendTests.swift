import ColonyEngine
import ColonyHTTP
import ColonyModels
import ColonyRouting
import ColonyServer
import Foundation
import Synchronization
import Testing

@testable import ColonyCluster

@Suite("router and workers over loopback gRPC", .serialized)
struct RoutedBackendTests {
    @Test("greedy output through the router equals a single engine's, stop strings included")
    func greedyEqualsEngine() async throws {
        let cluster = try await TinyCluster()
        let engine = try TinyCluster.engine()
        for (i, stops) in [[], ["e"], ["\n", "th"]].enumerated() {
            for seed in 0..<3 {
                let r = EngineRequest(
                    id: "r\(i)-\(seed)", promptTokens: prompt(seed, 5 + seed * 3), maxTokens: 16, stopTokens: [-1], stopStrings: stops)
                let direct = try await Outcome.collect(try engine.submit(r))
                var routed = try await Outcome.collect(try await cluster.backend.submit(r))
                #expect(routed.tokens == direct.tokens)
                #expect(routed.text == direct.text)
                #expect(routed.reason == direct.reason)
                // Cached prompt tokens depend on which worker served it before; the rest match.
                routed.usage?.cachedPromptTokens = direct.usage?.cachedPromptTokens ?? 0
                #expect(routed.usage == direct.usage)
            }
        }
        await engine.shutdown()
        await cluster.stop()
    }

    @Test("a request whose worker drains mid-stream moves to another and ends as if undisturbed, greedy or seeded")
    func drainMigrates() async throws {
        let cluster = try await TinyCluster(workers: 3, stepDelay: 0.004, drainTimeout: .milliseconds(100))
        let engine = try TinyCluster.engine()
        var sampling = SamplingParameters.greedy
        sampling.temperature = 0.8
        sampling.seed = 7
        for (n, sampling) in [SamplingParameters.greedy, sampling].enumerated() {
            let r = EngineRequest(
                id: "m\(n)", promptTokens: prompt(n, 6), sampling: sampling, maxTokens: 60, stopTokens: [-1], stopStrings: ["zz"])
            let direct = try await Outcome.collect(try engine.submit(r))
            var routed = Outcome()
            for try await event in try await cluster.backend.submit(r) {
                switch event {
                case .token(let id, let text):
                    routed.tokens.append(id)
                    routed.text += text
                    if routed.tokens.count == 10, let busy = cluster.loads.first(where: { $0.value.0 > 0 })?.key {
                        Task { await cluster.worker(busy).drain() }
                    }
                case .finished(let reason, let usage, let tail):
                    routed.reason = reason
                    routed.usage = usage
                    routed.text += tail
                }
            }
            #expect(routed.tokens == direct.tokens)
            #expect(routed.text == direct.text)
            #expect(routed.reason == direct.reason)
            #expect(routed.usage?.completionTokens == direct.usage?.completionTokens)
            #expect(routed.usage?.promptTokens == direct.usage?.promptTokens)
        }
        #expect(cluster.backend.state.withLock { $0.migrations } == 2)
        #expect(cluster.backend.state.withLock { $0.migrationFailures } == 0)
        #expect(cluster.backend.state.withLock { $0.routable.count } == 1)
        #expect(cluster.backend.state.withLock { $0.repairs.isEmpty }, "a drain is not a failure")
        await engine.shutdown()
        await cluster.stop()
    }

    @Test("under score each worker runs at most its batch, the rest wait at the router, and the most urgent goes first")
    func scoreQueuesByPriority() async throws {
        let cluster = try await TinyCluster(routing: .score, stepDelay: 0.01, engine: { $0.maxBatch = 1 })
        let backend = cluster.backend
        let timeline = Timeline()
        let watching = Task {
            while !Task.isCancelled {
                for (id, load) in cluster.loads { timeline.peak.withLock { $0[id] = max($0[id] ?? 0, load.0) } }
                try? await Task.sleep(for: .milliseconds(2))
            }
        }
        func run(_ id: String, tokens: Int, priority: Int) -> Task<Void, Error> {
            Task {
                let r = EngineRequest(
                    id: id, promptTokens: prompt(id.count, 6), maxTokens: tokens, stopTokens: [-1], priority: priority)
                for try await event in try await backend.submit(r) {
                    if case .token = event { _ = timeline.firstToken.withLock { $0[id] = $0[id] ?? .now } }
                }
                timeline.finished.withLock { $0[id] = .now }
            }
        }
        // One short and one long request fill both workers' single slots.
        let short = run("short", tokens: 60, priority: 0)
        let long = run("long", tokens: 150, priority: 0)
        try await until("both workers busy") { cluster.loads.values.filter { $0.0 == 1 }.count == 2 }
        let low = run("low", tokens: 5, priority: -5)
        try await until("the low-priority request waits") { backend.state.withLock { $0.policy.waiting.queue.count } == 1 }
        let high = run("high", tokens: 5, priority: 5)
        try await until("both wait") { backend.state.withLock { $0.queued } == 2 }
        for t in [short, high, low, long] { try await t.value }
        watching.cancel()
        // The slot the short request freed went to the high-priority request, though the low one
        // had waited longer; the low one ran only after the high one finished.
        let (first, done) = (timeline.firstToken.withLock { $0 }, timeline.finished.withLock { $0 })
        #expect(first["high"]! < first["low"]!)
        #expect(done["high"]! <= first["low"]!)
        #expect(first["low"]! < done["long"]!)
        #expect(timeline.peak.withLock { $0 } == ["w1": 1, "w2": 1], "no worker ran more than its batch of 1")
        #expect(backend.state.withLock { $0.decisions } == ["score|score": 4])
        // Workers report their batch; the router keeps their recent time between tokens.
        try await until("inter-token times known") {
            backend.clusterStatus.members.dropFirst().allSatisfy { $0.capacity == 1 && $0.interTokenSeconds > 0.005 }
        }
        await cluster.stop()
    }

    @Test("a request asking for an unknown strategy is refused with the strategies there are")
    func unknownStrategy() async throws {
        let cluster = try await TinyCluster()
        var r = EngineRequest(promptTokens: prompt(1, 4), maxTokens: 2)
        r.routing = "fastest"
        await #expect(
            throws: EngineError.invalidRequest("x-colony-routing must be one of kv, round-robin, least-load, score; got 'fastest'")
        ) {
            _ = try await cluster.backend.submit(r)
        }
        #expect(cluster.loads.values.allSatisfy { $0 == (0, 0) })
        await cluster.stop()
    }

    @Test("a client that disconnects, or a cancel by id, frees the request's blocks on the worker")
    func cancelAndDisconnect() async throws {
        let cluster = try await TinyCluster(workers: 1, stepDelay: 0.002)
        let worker = cluster.worker("w1")
        // Disconnect: read two tokens, then drop the stream.
        do {
            let stream = try await cluster.backend.submit(
                EngineRequest(id: "gone", promptTokens: prompt(1, 9), maxTokens: 200, stopTokens: [-1]))
            var seen = 0
            for try await _ in stream {
                seen += 1
                if seen == 2 { break }
            }
        }
        try await until("the worker idle after a disconnect") { worker.engine.stats.running == 0 && worker.engine.stats.kvBlocksUsed == 0 }
        // Cancel by id: the stream ends with .finished(.cancelled). Steps of at least 2 ms make
        // the 240 tokens take half a second, far longer than the cancel call.
        var outcome = Outcome()
        let stream = try await cluster.backend.submit(
            EngineRequest(id: "stop-me", promptTokens: prompt(2, 9), maxTokens: 240, stopTokens: [-1]))
        for try await event in stream {
            switch event {
            case .token(let token, _):
                outcome.tokens.append(token)
                if outcome.tokens.count == 1 { await cluster.backend.cancel("stop-me") }
            case .finished(let reason, _, _): outcome.reason = reason
            }
        }
        #expect(outcome.reason == .cancelled)
        #expect(outcome.tokens.count < 240)
        try await until("the worker idle after a cancel") { worker.engine.stats.running == 0 && worker.engine.stats.kvBlocksUsed == 0 }
        try await until("router load back to zero") { cluster.loads["w1"]! == (0, 0) }
        await cluster.stop()
    }

    @Test("load counts return to zero after 200 mixed requests: finished, stopped, refused, cancelled, disconnected")
    func loadAccounting() async throws {
        let cluster = try await TinyCluster(engine: { $0.maxQueue = 4 })
        let backend = cluster.backend
        let outcomes = try await withThrowingTaskGroup(of: String.self) { group in
            for i in 0..<200 {
                group.addTask {
                    let kind = i % 5
                    let r = EngineRequest(
                        id: "m\(i)", promptTokens: kind == 2 ? [] : prompt(i % 7, 6 + i % 5), maxTokens: 6 + i % 4, stopTokens: [-1],
                        stopStrings: kind == 1 ? ["e"] : [])
                    let stream: AsyncThrowingStream<EngineEvent, Error>
                    do { stream = try await backend.submit(r) } catch { return "refused" }
                    switch kind {
                    case 3:
                        for try await _ in stream { break }
                        return "disconnected"
                    case 4:
                        for try await event in stream {
                            if case .token = event { await backend.cancel(r.id) }
                        }
                        return "cancelled"
                    default:
                        _ = try await Outcome.collect(stream)
                        return "finished"
                    }
                }
            }
            var counts: [String: Int] = [:]
            for try await o in group { counts[o, default: 0] += 1 }
            return counts
        }
        #expect(outcomes.values.reduce(0, +) == 200)
        #expect(outcomes["refused", default: 0] >= 40)  // every empty prompt, plus any queue-full refusals
        #expect(outcomes["finished", default: 0] > 0)
        try await until("router load back to zero") { cluster.loads.values.allSatisfy { $0 == (0, 0) } }
        try await until("no requests in flight at the router") { backend.stats.running == 0 }
        for w in cluster.workers {
            try await until("worker \(w.identity.id) idle") { w.engine.stats.running == 0 && w.engine.stats.kvBlocksUsed == 0 }
        }
        await cluster.stop()
    }

    @Test("the router learns each worker's cache from its events and routes a repeated prompt back to it")
    func kvEventsDriveRouting() async throws {
        let cluster = try await TinyCluster()
        let p = prompt(4, 14)  // 3 full blocks of 4
        let first = try await Outcome.collect(
            try await cluster.backend.submit(EngineRequest(promptTokens: p, maxTokens: 2, stopTokens: [-1])))
        #expect(first.reason == .length)
        let hashes = PrefixHash.blocks(of: p, blockSize: 4)
        try await until("the index holds the prompt's blocks") {
            cluster.backend.state.withLock { s in hashes.prefix(3).allSatisfy { !s.index.holders(of: $0).isEmpty } }
        }
        let holder = cluster.backend.state.withLock { $0.index.holders(of: hashes[0]).first! }
        for _ in 0..<3 {
            let again = try await Outcome.collect(
                try await cluster.backend.submit(EngineRequest(promptTokens: p, maxTokens: 2, stopTokens: [-1])))
            #expect(again.usage?.cachedPromptTokens == 12)
        }
        let decisions = cluster.backend.state.withLock { $0.decisions }
        #expect(decisions["kv|kv_cost"] == 4)
        #expect(cluster.worker(holder).engine.stats.prefixCacheHitRate > 0)
        await cluster.stop()
    }

    @Test("a worker serving another model file is refused and never routed to")
    func otherModelRefused() async throws {
        let cluster = try await TinyCluster(workers: 2, digests: ["w2": "c64:0000000000000000"])
        try await until("w2 marked dead") { cluster.backend.clusterStatus.members.first { $0.id == "w2" }?.state == .dead }
        let w2 = cluster.backend.clusterStatus.members.first { $0.id == "w2" }!
        #expect(w2.detail?.contains("serves model 'tiny' (c64:0000000000000000)") == true)
        for i in 0..<4 {
            _ = try await Outcome.collect(try await cluster.backend.submit(EngineRequest(promptTokens: prompt(i, 5), maxTokens: 2)))
        }
        #expect(cluster.worker("w2").engine.stats.steps == 0)
        #expect(cluster.backend.health == .degraded("1 of 2 workers are suspect or dead"))
        await cluster.stop()
    }

    @Test("a second request with an id in flight is refused before it charges a worker; the first is unharmed")
    func duplicateID() async throws {
        // Steps of at least 5 ms keep the first request in flight while the second is submitted.
        let cluster = try await TinyCluster(workers: 1, stepDelay: 0.005)
        let first = try await cluster.backend.submit(EngineRequest(id: "dup", promptTokens: prompt(3, 6), maxTokens: 40, stopTokens: [-1]))
        await #expect(throws: EngineError.duplicateID("dup")) {
            _ = try await cluster.backend.submit(EngineRequest(id: "dup", promptTokens: prompt(4, 6), maxTokens: 4))
        }
        let outcome = try await Outcome.collect(first)
        #expect(outcome.reason == .length)
        #expect(outcome.tokens.count == 40)
        try await until("router load back to zero") { cluster.loads["w1"]! == (0, 0) }
        await cluster.stop()
    }

    @Test("a spare is ready and listed but never routed to")
    func spareNotRouted() async throws {
        let cluster = try await TinyCluster(workers: 1, spares: 1)
        try await until("the spare ready") { cluster.backend.clusterStatus.members.first { $0.id == "s1" }?.state == .ready }
        for i in 0..<4 {
            _ = try await Outcome.collect(try await cluster.backend.submit(EngineRequest(promptTokens: prompt(i, 5), maxTokens: 2)))
        }
        #expect(cluster.worker("s1").engine.stats.steps == 0)
        #expect(cluster.worker("w1").engine.stats.steps > 0)
        #expect(cluster.backend.clusterStatus.members.map(\.role) == ["router", "spare", "active"])
        await cluster.stop()
    }

    @Test("a draining worker refuses new requests and leaves discovery; with none ready the router answers 503-style")
    func drainAndUnavailable() async throws {
        let cluster = try await TinyCluster(workers: 1)
        await cluster.worker("w1").drain()
        try await until("w1 gone from the router") { cluster.backend.state.withLock { $0.routable.isEmpty } }
        var config = cluster.backend.configuration
        config.dispatchTimeout = .milliseconds(200)
        await #expect(throws: EngineError.unavailable("no worker is ready to serve 'tiny' (none known); retry later")) {
            _ = try await RoutedBackend(
                tokenizer: cluster.tokenizer, contextLength: 256, configuration: config, discovery: cluster.backend.discovery
            ).submit(EngineRequest(promptTokens: [5], maxTokens: 1))
        }
        if case .unavailable = await cluster.backend.health {} else { Issue.record("health should be unavailable") }
        await cluster.stop()
    }
}

@Suite("the router's HTTP face")
/// When each request of a test saw its first token and its end, and each worker's peak load.
private final class Timeline: Sendable {
    let firstToken = Mutex<[String: ContinuousClock.Instant]>([:])
    let finished = Mutex<[String: ContinuousClock.Instant]>([:])
    let peak = Mutex<[String: Int]>([:])
}

struct RouterHTTPTests {
    @Test("/metrics carries the router's figures and /v1/cluster its members, through the same OpenAIServer")
    func metricsAndCluster() async throws {
        let cluster = try await TinyCluster()
        for i in 0..<3 {
            _ = try await Outcome.collect(try await cluster.backend.submit(EngineRequest(promptTokens: prompt(i, 6), maxTokens: 2)))
        }
        var server = OpenAIServer(engine: cluster.backend, modelName: "tiny", template: nil)
        let backend = cluster.backend
        server.statusRoutes["/v1/cluster"] = { try JSONEncoder().encode(backend.clusterStatus) }
        let (portStream, portSink) = AsyncStream<Int>.makeStream()
        let serving = Task { try await server.run(host: "127.0.0.1", port: 0) { portSink.yield($0) } }
        var port = 0
        for await p in portStream {
            port = p
            break
        }
        let endpoint = try HTTPClient.Endpoint(url: "http://127.0.0.1:\(port)")
        let metrics = String(decoding: try HTTPClient.send("GET", endpoint, path: "/metrics", timeout: 10).body, as: UTF8.self)
        #expect(metrics.contains(#"colony_router_decisions_total{policy="kv",reason="kv_cost"} 3"#))
        #expect(metrics.contains(#"colony_router_worker_state{state="ready",worker="w1"} 1.0"#))
        #expect(metrics.contains(#"colony_router_worker_state{state="dead",worker="w2"} 0.0"#))
        #expect(metrics.contains("# TYPE colony_router_queue_depth gauge"))
        let body = try HTTPClient.send("GET", endpoint, path: "/v1/cluster", timeout: 10).body
        let status = try JSONDecoder().decode(ClusterStatus.self, from: body)
        #expect(status.members.map(\.id) == ["router", "w1", "w2"])
        // A request may ask for a strategy by header; a strategy that does not exist is a 400.
        let completion = Data(#"{"model": "tiny", "prompt": [5, 6, 7], "max_tokens": 2}"#.utf8)
        var headers = ["Content-Type": "application/json", "x-colony-routing": "score"]
        let scored = try HTTPClient.send("POST", endpoint, path: "/v1/completions", headers: headers, body: completion, timeout: 30)
        #expect(scored.status == 200)
        #expect(backend.state.withLock { $0.decisions["score|score"] } == 1)
        headers["x-colony-routing"] = "nope"
        let refused = try HTTPClient.send("POST", endpoint, path: "/v1/completions", headers: headers, body: completion, timeout: 30)
        #expect(refused.status == 400)
        #expect(String(decoding: refused.body, as: UTF8.self).contains("x-colony-routing must be one of"))
        serving.cancel()
        _ = try? await serving.value
        await cluster.stop()
    }
}

@Suite("worker KV event hub")
struct KVEventHubTests {
    @Test("subscribers get a replay or a dump, then live events; after the engine stops a new subscription ends at once")
    func hub() async throws {
        let hub = KVEventHub(capacity: 8)
        let (events, sink) = AsyncStream<KVEvent>.makeStream()
        let consuming = Task { await hub.consume(events) }
        let h = PrefixHash.blocks(of: Array(0..<8), blockSize: 4)
        let early = await hub.subscribe(after: 0)
        sink.yield(.stored(hashes: h, parent: nil, blockSize: 4))
        sink.yield(.removed([h[1]]))
        var received: [KVUpdate] = []
        for await u in early {
            received.append(u)
            if received.count == 3 { break }
        }
        #expect(
            received == [.dump(id: 0, []), .event(id: 1, .stored(hashes: h, parent: nil, blockSize: 4)), .event(id: 2, .removed([h[1]]))])
        sink.finish()
        await consuming.value
        // The drain case: subscribing after the end must not leave the call open.
        var late: [KVUpdate] = []
        for await u in await hub.subscribe(after: 1) { late.append(u) }
        #expect(late == [.event(id: 2, .removed([h[1]]))])
    }
}
