import ColonyEngine
import ColonyModels
import ColonyRouting
import Foundation
import Testing

@testable import ColonyCluster

/// A router and workers in this process, over loopback gRPC, on the tiny test model.
final class TinyCluster: Sendable {
    static let modelPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../ColonyModelsTests/Fixtures/tiny-llama-tied.gguf").standardized.path

    let workers: [WorkerNode]
    let backend: RoutedBackend
    let discoveryPath: String
    let tokenizer: Tokenizer
    private let serving: [Task<Void, Error>]

    static func load() throws -> (LlamaModel, Tokenizer) {
        let file = try GGUFFile(contentsOf: modelPath)
        return (try LlamaModel(gguf: file, threads: 1), try Tokenizer(gguf: file))
    }

    /// An engine on the tiny model; with `stepDelay`, each step takes at least that long, so
    /// a worker can fail while a request is mid-stream.
    static func engine(stepDelay: Double = 0, _ edit: (inout EngineConfiguration) -> Void = { _ in }) throws -> Engine {
        let (model, tokenizer) = try load()
        var c = EngineConfiguration()
        c.kvBlocks = 64
        c.blockSize = 4
        c.publishesKVEvents = true
        edit(&c)
        let runner = LlamaRunner(model: model, blockCount: c.kvBlocks, blockSize: c.blockSize)
        return try Engine(runner: SlowRunner(runner, delay: stepDelay), tokenizer: tokenizer, configuration: c)
    }

    /// Starts `count` workers (ids w1, w2, …) and `spares` spares (s1, …) and a router with `routing`; `digests` overrides
    /// what some workers advertise. Returns once every worker with the router's digest is ready.
    init(
        workers count: Int = 2, spares: Int = 0, routing: RoutingStrategy = .kv, digests: [String: String] = [:],
        stepDelay: Double = 0, drainTimeout: Duration = .seconds(5),
        router: (inout RouterConfiguration) -> Void = { _ in },
        engine edit: @escaping (inout EngineConfiguration) -> Void = { _ in }
    ) async throws {
        discoveryPath = NSTemporaryDirectory() + "colony-cluster-test-\(UUID().uuidString).json"
        let discovery = FileDiscovery(path: discoveryPath)
        let digest = try ModelDigest.of(path: Self.modelPath)
        var nodes: [WorkerNode] = []
        var tasks: [Task<Void, Error>] = []
        for i in 1...(count + spares) {
            let id = i <= count ? "w\(i)" : "s\(i - count)"
            let identity = WorkerIdentity(id: id, role: i <= count ? .active : .spare, model: "tiny", modelDigest: digests[id] ?? digest)
            let node = WorkerNode(
                engine: try Self.engine(stepDelay: stepDelay, edit), identity: identity, discovery: discovery, host: "127.0.0.1",
                port: 0, drainTimeout: drainTimeout)
            nodes.append(node)
            tasks.append(Task { try await node.run() })
        }
        workers = nodes
        serving = tasks
        tokenizer = try Self.load().1
        var config = RouterConfiguration(model: "tiny", modelDigest: digest)
        config.blockSize = 4
        config.pollInterval = .milliseconds(50)
        config.routing = RoutingPolicy(strategy: routing)
        config.dispatchTimeout = .seconds(10)
        router(&config)
        backend = RoutedBackend(tokenizer: tokenizer, contextLength: 256, configuration: config, discovery: discovery)
        let expected = count - digests.values.filter { $0 != digest }.count
        // Generous: on a machine saturated by other test processes, connecting can take a while.
        try await until("\(expected) workers ready", timeout: .seconds(90)) {
            self.backend.state.withLock { $0.routable.count } == expected
        }
    }

    func stop() async {
        await backend.shutdown(cancelInFlight: true)
        for w in workers { await w.drain() }
        for t in serving { _ = try? await t.value }
        try? FileManager.default.removeItem(atPath: discoveryPath)
        try? FileManager.default.removeItem(atPath: discoveryPath + ".lock")
    }

    /// The worker node with `id`.
    func worker(_ id: String) -> WorkerNode { workers.first { $0.identity.id == id }! }

    /// Router-side load of every member: (requests in flight, blocks charged).
    var loads: [String: (Int, Int)] { backend.state.withLock { s in s.members.mapValues { ($0.inFlight, $0.activeBlocks) } } }
}

/// A runner that takes at least `delay` seconds per step.
final class SlowRunner: ModelRunner {
    let inner: LlamaRunner
    let delay: Double
    init(_ inner: LlamaRunner, delay: Double) {
        self.inner = inner
        self.delay = delay
    }
    var config: LlamaConfiguration { inner.config }
    func execute(_ output: SchedulerOutput) throws(ModelError) -> [[Float]] {
        if delay > 0 { Thread.sleep(forTimeInterval: delay) }
        return try inner.execute(output)
    }
}

/// Polls `condition` every 20 ms for up to `timeout`; fails the test with `what` if it never holds.
func until(_ what: String, timeout: Duration = .seconds(30), _ condition: @Sendable () async -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if await condition() { return }
        try await Task.sleep(for: .milliseconds(20))
    }
    Issue.record("timed out waiting for: \(what)")
    throw CancellationError()
}

/// A stream collected: token ids, text and how it ended.
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

/// A deterministic prompt of `n` ordinary tokens.
func prompt(_ seed: Int, _ n: Int) -> [Int] { (0..<n).map { 3 + (seed * 31 + $0 * 17) % 300 } }
