import ColonyAgents
import ColonyEngine
import ColonyHTTP
import ColonyModels
import ColonyRegistry
import ColonyRouting
import ColonyServer
import ColonyStore
import ColonyTensor
import Foundation
import Synchronization
import Testing

/// A registry holding the tiny model as `tiny@prod` and two random LoRA adapter versions on it.
struct AdapterRegistry: Sendable {
    let folder: URL
    let registry: Registry
    let base: String
    let adapters: [String]

    init() async throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("colony-catalog-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        registry = Registry(
            store: try SQLiteStore(path: folder.appendingPathComponent("colony.sqlite").path),
            root: folder.appendingPathComponent("registry").path)
        base = try await registry.register(name: "tiny", file: TestServer.tinyPath, ref: "prod").version.id
        let config = try LlamaConfiguration(gguf: try GGUFFile(contentsOf: TestServer.tinyPath))
        var adapters: [String] = []
        for seed in [UInt64(1), 2] {
            let path = folder.appendingPathComponent("adapter-\(seed).gguf").path
            try Self.writeAdapter(config: config, seed: seed, to: path)
            adapters.append(try await registry.register(name: "tiny", file: path, parent: base).version.id)
        }
        self.adapters = adapters
    }

    func remove() { try? FileManager.default.removeItem(at: folder) }

    /// A rank-2 adapter on Q and V of every layer with random factors, in llama.cpp's format.
    static func writeAdapter(config c: LlamaConfiguration, seed: UInt64, to path: String) throws {
        var rng = SplitMix64(seed: seed)
        var writer = GGUFWriter()
        writer.set("general.architecture", .string(c.architecture.rawValue))
        writer.set("general.type", .string("adapter"))
        writer.set("adapter.type", .string("lora"))
        writer.set("adapter.lora.alpha", .float32(4))
        for layer in 0..<c.blockCount {
            for (target, out) in [("attn_q", c.queryDimension), ("attn_v", c.kvDimension)] {
                let name = "blk.\(layer).\(target).weight"
                let a = (0..<(2 * c.embeddingLength)).map { _ in Float(rng.nextUnit() - 0.5) }
                let b = (0..<(out * 2)).map { _ in Float(rng.nextUnit() - 0.5) }
                writer.add(try Tensor.quantizing(a, name: name + ".lora_a", shape: [c.embeddingLength, 2], as: .f32))
                writer.add(try Tensor.quantizing(b, name: name + ".lora_b", shape: [2, out], as: .f32))
            }
        }
        try writer.write(to: path)
    }
}

@Suite("Registry versions served per request: adapters, splits, feedback and the gate", .serialized)
struct VersionCatalogTests {
    static func server(_ r: AdapterRegistry, gate: PromotionGate? = nil) async throws -> TestServer {
        try await TestServer(catalog: { model in
            RegistryCatalog(registry: r.registry, name: "tiny", base: r.base, baseConfig: model.config, gate: gate, refresh: 0)
        })
    }

    /// A completion's id, the version that answered, and how many prompt tokens were cached.
    static func complete(_ s: TestServer, model: String?, user: String? = nil, prompt: String = "hello there")
        async throws -> (id: String, version: String, cached: Int)
    {
        var fields = ["\"prompt\": \"\(prompt)\"", "\"max_tokens\": 2", "\"temperature\": 0"]
        if let model { fields.append("\"model\": \"\(model)\"") }
        if let user { fields.append("\"user\": \"\(user)\"") }
        let r = try await s.send("POST", "/v1/completions", json: "{" + fields.joined(separator: ", ") + "}")
        try #require(r.status == 200, "\(String(decoding: r.body, as: UTF8.self))")
        let body = try s.object(r)
        let usage = body["usage"] as? [String: Any]
        let cached = (usage?["prompt_tokens_details"] as? [String: Any])?["cached_tokens"] as? Int ?? 0
        return (body["id"] as! String, r.headers["x-colony-model-version"] ?? "", cached)
    }

    @Test("NAME@ID picks a version, adapters never share the base's prefix cache, and a split is sticky per session")
    func versionsAndSplit() async throws {
        let r = try await AdapterRegistry()
        defer { r.remove() }
        let s = try await Self.server(r)
        defer { Task { await s.stop() } }
        let (base, a1, a2) = (r.base, r.adapters[0], r.adapters[1])

        #expect(try await Self.complete(s, model: nil).version == "tiny@\(base)")
        #expect(try await Self.complete(s, model: "tiny@\(a1)").version == "tiny@\(a1)")
        #expect(try await Self.complete(s, model: "ref:tiny@dev").version == "tiny@\(a2)", "dev points at the last registered")
        let missing = try await s.send("POST", "/v1/completions", json: #"{"prompt": "x", "model": "tiny@v000000000000"}"#)
        #expect(missing.status == 404)

        // The same long prompt: cached on its second run under one version, never across versions.
        let long = String(repeating: "the colony learns from its own work ", count: 6)
        _ = try await Self.complete(s, model: "tiny@\(base)", prompt: long)
        #expect(try await Self.complete(s, model: "tiny@\(base)", prompt: long).cached > 0)
        #expect(try await Self.complete(s, model: "tiny@\(a1)", prompt: long).cached == 0, "an adapter has its own prefix cache")
        #expect(try await Self.complete(s, model: "tiny@\(a1)", prompt: long).cached > 0)

        try await r.registry.setSplit(
            name: "tiny", ref: "prod", text: "prod=\(base):50,\(a1):50", versions: [base, a1], why: "A/B")
        let split = try TrafficSplit(parsing: "prod=\(base):50,\(a1):50")
        var seen: Set<String> = []
        for u in 0..<12 {
            let first = try await Self.complete(s, model: "tiny", user: "user-\(u)").version
            #expect(first == "tiny@\(split.version(for: "user-\(u)"))")
            #expect(try await Self.complete(s, model: "ref:tiny", user: "user-\(u)").version == first, "sticky")
            seen.insert(first)
        }
        #expect(seen.count == 2, "both arms get sessions")
        #expect(try await Self.complete(s, model: "tiny@\(base)", user: "user-1").version == "tiny@\(base)", "NAME@ID bypasses")
        try await r.registry.clearSplit(name: "tiny")
        #expect(try await Self.complete(s, model: "tiny", user: "user-1").version == "tiny@\(base)")
        #expect(try await r.registry.split(name: "tiny") == nil)
    }

    @Test("feedback is validated and tallied per version; the gate promotes a planted better version and rolls back a worse one")
    func feedbackAndGate() async throws {
        let r = try await AdapterRegistry()
        defer { r.remove() }
        let s = try await Self.server(r, gate: PromotionGate(minimumSamples: 8, maximumSamples: 200))
        defer { Task { await s.stop() } }
        let (base, a1, a2) = (r.base, r.adapters[0], r.adapters[1])

        let one = try await Self.complete(s, model: nil)
        for (body, status) in [
            (#"{"id": "cmpl-nope", "success": true}"#, 404), (#"{"id": "\#(one.id)"}"#, 400), (#"{"success": true}"#, 400),
            (#"{"id": "\#(one.id)", "reward": 1, "success": true}"#, 200), (#"{"id": "\#(one.id)", "success": false}"#, 409),
        ] {
            let reply = try await s.send("POST", "/v1/feedback", json: body)
            #expect(reply.status == status, "\(body): \(String(decoding: reply.body, as: UTF8.self))")
        }
        // An agent's client keeps each response's id and posts its outcome (as TaskSuite does).
        let client = try OpenAIClient(url: "http://127.0.0.1:\(s.port)", model: "tiny@\(base)")
        let reply = try await client.complete(LLMRequest(messages: [ChatMessage(role: "user", content: "hi")], maxTokens: 2))
        try await client.report(response: try #require(reply.responseID), reward: 0, success: false)
        let report = try s.object(try await s.send("GET", "/v1/feedback"))
        let tally = try #require((report["versions"] as? [String: Any])?["tiny@\(base)"] as? [String: Any])
        #expect(tally["requests"] as? Int == 2 && tally["feedback"] as? Int == 2 && tally["successes"] as? Int == 1)
        #expect((tally["latency_mean_s"] as? Double ?? 0) > 0)

        /// Sends sessions through the split and posts success for `good` versions only, until the split ends.
        func play(good: Set<String>) async throws {
            for u in 0..<400 {
                guard try await r.registry.split(name: "tiny") != nil else { return }
                let c = try await Self.complete(s, model: "tiny", user: "session-\(u)")
                let success = good.contains(c.version)
                let reply = try await s.send("POST", "/v1/feedback", json: #"{"id": "\#(c.id)", "success": \#(success)}"#)
                #expect(reply.status == 200)
            }
            Issue.record("the gate never decided")
        }
        try await r.registry.setSplit(name: "tiny", ref: "prod", text: "prod=\(base):50,\(a1):50", versions: [base, a1])
        try await play(good: ["tiny@\(a1)"])
        #expect(try await r.registry.store.refs(name: "tiny")["prod"] == a1, "the better challenger was promoted")
        let log = try await r.registry.store.log(name: "tiny")
        let promoted = try #require(log.last { $0.ref == "prod" && $0.action == "promote" })
        #expect(promoted.why?.contains("\"lower\"") == true && promoted.to == a1, "logged with the gate's evidence")
        #expect(log.last?.action == "gate-promote", "and the split ended")

        try await r.registry.setSplit(name: "tiny", ref: "prod", text: "prod=\(a1):50,\(a2):50", versions: [a1, a2])
        try await play(good: ["tiny@\(a1)"])
        #expect(try await r.registry.store.refs(name: "tiny")["prod"] == a1, "the worse challenger did not take prod")
        let rolledBack = try #require(try await r.registry.store.log(name: "tiny").last { $0.action == "gate-rollback" })
        #expect(rolledBack.why?.contains("rolled back \(a2)") == true)
    }

    @Test("promoting and splitting versions under load fails no request, and every version swapped in serves at once")
    func hotSwapUnderLoad() async throws {
        let r = try await AdapterRegistry()
        defer { r.remove() }
        let s = try await Self.server(r)
        defer { Task { await s.stop() } }
        let (base, a1, a2) = (r.base, r.adapters[0], r.adapters[1])
        final class Seen: Sendable {
            let failures = Mutex<[String]>([])
            let versions = Mutex<Set<String>>([])
            let done = Mutex(0)

            func wait(for count: Int) async throws {
                while done.withLock({ $0 }) < count { try await Task.sleep(for: .milliseconds(5)) }
            }
        }
        let seen = Seen()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for client in 0..<4 {
                group.addTask {
                    for i in 0..<30 {
                        let stream = (client + i) % 2 == 0
                        let body =
                            #"{"prompt": "count to ten", "max_tokens": 6, "temperature": 0, "user": "c\#(client)-\#(i)", "stream": \#(stream)}"#
                        let reply = try await s.send("POST", "/v1/completions", json: body)
                        let text = String(decoding: reply.body, as: UTF8.self)
                        if reply.status != 200 || (stream && !text.contains("[DONE]")) || text.contains("\"error\"") {
                            seen.failures.withLock { $0.append("\(reply.status): \(text)") }
                        }
                        if let v = reply.headers["x-colony-model-version"] { seen.versions.withLock { _ = $0.insert(v) } }
                        seen.done.withLock { $0 += 1 }
                    }
                }
            }
            group.addTask {
                try await seen.wait(for: 20)
                try await r.registry.promote(name: "tiny", id: a1)
                try await seen.wait(for: 50)
                try await r.registry.setSplit(name: "tiny", ref: "prod", text: "prod=\(a1):50,\(a2):50", versions: [a1, a2])
                try await seen.wait(for: 80)
                try await r.registry.clearSplit(name: "tiny")
                try await r.registry.promote(name: "tiny", id: base)
            }
            try await group.waitForAll()
        }
        #expect(seen.failures.withLock { $0 } == [])
        let versions = seen.versions.withLock { $0 }
        #expect(versions.count == 3, "the swaps reached the server while it was busy: \(versions)")
    }
}
