import ColonyEngine
import ColonyHTTP
import ColonyModels
import ColonyServer
import Foundation
import Synchronization
import Testing

/// A server on a free loopback port, over an engine with the tiny model.
final class TestServer: Sendable {
    let engine: Engine
    let port: Int
    let endpoint: HTTPClient.Endpoint
    private let task: Task<Void, Error>

    static let tinyPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../ColonyModelsTests/Fixtures/tiny-llama-tied.gguf").standardized.path

    /// `wrap` puts a backend between the server and the engine (a test double that records requests).
    init(
        apiKey: String? = nil, configure: (inout EngineConfiguration) -> Void = { _ in },
        wrap: (Engine) -> any InferenceBackend = { $0 }, modelVersion: String? = nil,
        catalog: ((LlamaModel) -> any ModelCatalog)? = nil
    ) async throws {
        let file = try GGUFFile(contentsOf: Self.tinyPath)
        var config = EngineConfiguration()
        configure(&config)
        let model = try LlamaModel(gguf: file)
        engine = try Engine(model: model, tokenizer: try Tokenizer(gguf: file), configuration: config)
        var server = OpenAIServer(
            engine: wrap(engine), modelName: modelVersion ?? "tiny", template: try ChatTemplate(gguf: file), apiKey: apiKey)
        server.modelVersion = modelVersion
        server.catalog = catalog?(model)
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        task = Task { try await server.run(host: "127.0.0.1", port: 0) { continuation.yield($0) } }
        var bound = 0
        for await p in ports {
            bound = p
            break
        }
        port = bound
        endpoint = try HTTPClient.Endpoint(url: "http://127.0.0.1:\(bound)")
    }

    func stop() async {
        task.cancel()
        _ = try? await task.value
    }

    /// Runs a blocking request off the cooperative pool.
    func send(
        _ method: String, _ path: String, json: String? = nil, headers: [String: String] = [:],
        onBody: @escaping @Sendable (Data) -> Bool = { _ in true }
    ) async throws -> HTTPClient.Response {
        let endpoint = self.endpoint
        return try await withCheckedThrowingContinuation { c in
            Thread.detachNewThread {
                do {
                    c.resume(
                        returning: try HTTPClient.send(
                            method, endpoint, path: path, headers: headers,
                            body: json.map { Data($0.utf8) }, onBody: onBody))
                } catch { c.resume(throwing: error) }
            }
        }
    }

    func object(_ r: HTTPClient.Response) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: r.body) as? [String: Any])
    }
}

@Suite("OpenAI-compatible server over loopback", .serialized)
struct ServerTests {
    @Test("health, models and a chat completion with usage")
    func basics() async throws {
        let s = try await TestServer()
        #expect(try await s.send("GET", "/health").status == 200)
        let models = try s.object(try await s.send("GET", "/v1/models"))
        #expect((models["data"] as? [[String: Any]])?.first?["id"] as? String == "tiny")
        let r = try await s.send(
            "POST", "/v1/chat/completions",
            json: #"{"model":"tiny","messages":[{"role":"user","content":"hi"}],"max_tokens":6,"temperature":0}"#)
        #expect(r.status == 200)
        let body = try s.object(r)
        let usage = try #require(body["usage"] as? [String: Any])
        #expect(usage["completion_tokens"] as? Int == 6)
        #expect((body["choices"] as? [[String: Any]])?.first?["finish_reason"] as? String == "length")
        await s.stop()
    }

    @Test("streaming sends the same text as a plain response, then [DONE]")
    func streaming() async throws {
        let s = try await TestServer()
        let request = #"{"messages":[{"role":"user","content":"tell me"}],"max_tokens":12,"temperature":0"#
        let plain = try s.object(try await s.send("POST", "/v1/chat/completions", json: request + "}"))
        let text = ((plain["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any])?["content"] as? String
        let plainTokens = (plain["usage"] as? [String: Any])?["completion_tokens"] as? Int
        let r = try await s.send(
            "POST", "/v1/chat/completions", json: request + #","stream":true,"stream_options":{"include_usage":true}}"#)
        #expect(r.headers["content-type"] == "text/event-stream")
        var parser = SSEParser()
        let events = parser.feed(r.body)
        #expect(events.last == "[DONE]")
        var streamed = ""
        var usage: Int?
        for e in events.dropLast() {
            let obj = try #require(try JSONSerialization.jsonObject(with: Data(e.utf8)) as? [String: Any])
            #expect(obj["object"] as? String == "chat.completion.chunk")
            let choice = (obj["choices"] as? [[String: Any]])?.first
            streamed += ((choice?["delta"] as? [String: Any])?["content"] as? String) ?? ""
            if let u = obj["usage"] as? [String: Any] { usage = u["completion_tokens"] as? Int }
        }
        #expect(streamed == text)
        #expect(usage != nil && usage == plainTokens)
        let completion = try s.object(
            try await s.send("POST", "/v1/completions", json: #"{"prompt":"the","max_tokens":4,"temperature":0}"#))
        #expect(completion["object"] as? String == "text_completion")
        await s.stop()
    }

    @Test(
        "errors come in OpenAI's shape with the right status",
        arguments: [
            ("{bad", 400, "the request body is not valid JSON"),
            (#"{"messages":"x"}"#, 400, "field 'messages' has the wrong type"),
            (#"{"messages":[{"role":"robot","content":"x"}]}"#, 400, "role 'robot'"),
            (#"{"messages":[]}"#, 400, "at least one message"),
            (#"{"messages":[{"role":"user","content":"x"}],"max_tokens":0}"#, 400, "max_tokens must be > 0"),
            (#"{"messages":[{"role":"user","content":"x"}],"temperature":"hot"}"#, 400, "field 'temperature' has the wrong type"),
            (#"{"messages":[{"role":"user","content":"x"}],"temperature":3}"#, 400, "temperature must be between 0 and 2"),
            (#"{"messages":[{"role":"user","content":"x"}],"n":2}"#, 400, "n must be 1"),
            (#"{"model":"gpt-4","messages":[{"role":"user","content":"x"}]}"#, 404, "the model 'gpt-4' does not exist"),
            (#"{"messages":[{"role":"user","content":"\#(String(repeating: "word ", count: 400))"}]}"#, 400, "context holds"),
        ])
    func errors(body: String, status: Int, message: String) async throws {
        let s = try await TestServer()
        let r = try await s.send("POST", "/v1/chat/completions", json: body)
        #expect(r.status == status)
        let error = try #require(try s.object(r)["error"] as? [String: Any])
        #expect((error["message"] as? String)?.contains(message) == true, "\(error)")
        #expect(s.engine.stats.finished.isEmpty, "a rejected request changes nothing")
        await s.stop()
    }

    @Test("an API key is required when set")
    func apiKey() async throws {
        let s = try await TestServer(apiKey: "sesame")
        let body = #"{"messages":[{"role":"user","content":"x"}],"max_tokens":1}"#
        #expect(try await s.send("POST", "/v1/chat/completions", json: body).status == 401)
        #expect(try await s.send("POST", "/v1/chat/completions", json: body, headers: ["Authorization": "Bearer wrong"]).status == 401)
        #expect(try await s.send("POST", "/v1/chat/completions", json: body, headers: ["Authorization": "Bearer sesame"]).status == 200)
        #expect(try await s.send("GET", "/health").status == 200)
        await s.stop()
    }

    @Test("a full queue answers 429 and the accepted requests still complete")
    func queueFull() async throws {
        let s = try await TestServer {
            $0.maxBatch = 1
            $0.maxQueue = 1
        }
        let body = #"{"messages":[{"role":"user","content":"x"}],"max_tokens":150,"temperature":0}"#
        // 16 at once against one running slot and one queue place: some must be refused
        // (a few rounds, in case a loaded machine starts the clients one by one).
        var statuses: [Int] = []
        for _ in 0..<5 where !statuses.contains(429) {
            statuses += try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<16 { group.addTask { try await s.send("POST", "/v1/chat/completions", json: body).status } }
                var all: [Int] = []
                for try await st in group { all.append(st) }
                return all
            }
        }
        #expect(statuses.contains(429))
        #expect(statuses.contains(200))
        #expect(statuses.allSatisfy { $0 == 200 || $0 == 429 })
        let metrics = String(decoding: try await s.send("GET", "/metrics").body, as: UTF8.self)
        #expect(metrics.contains("colony_requests_total{outcome=\"rejected\"} \(statuses.filter { $0 == 429 }.count)"))
        await s.stop()
    }

    @Test("a client that disconnects mid-stream frees its blocks")
    func disconnect() async throws {
        let s = try await TestServer()
        let counter = Counter()
        _ = try await s.send(
            "POST", "/v1/chat/completions",
            json: #"{"messages":[{"role":"user","content":"x"}],"max_tokens":5000,"ignore_eos":true,"stream":true}"#
        ) { _ in counter.increment() < 5 }
        var stats = s.engine.stats
        for _ in 0..<200 where stats.running > 0 || stats.finished.values.reduce(0, +) != 1 {
            try await Task.sleep(for: .milliseconds(10))
            stats = s.engine.stats
        }
        #expect(stats.running == 0)
        #expect(stats.kvBlocksUsed == 0)
        // Cancelled, unless the tiny model filled its 256-token context before the hang-up landed
        // (ignore_eos keeps a sampled end token from ending it first on a slow, loaded machine).
        #expect(stats.finished["cancelled", default: 0] + stats.finished["context_full", default: 0] == 1, "finished: \(stats.finished)")
        await s.stop()
    }

    @Test("JSON mode always returns a parseable object")
    func jsonMode() async throws {
        let s = try await TestServer()
        for i in 0..<5 {
            let r = try await s.send(
                "POST", "/v1/chat/completions",
                json:
                    #"{"messages":[{"role":"user","content":"json \#(i)"}],"max_tokens":200,"temperature":0.8,"seed":\#(i),"response_format":{"type":"json_object"}}"#
            )
            let choice = try #require((try s.object(r)["choices"] as? [[String: Any]])?.first)
            let content = try #require((choice["message"] as? [String: Any])?["content"] as? String)
            if choice["finish_reason"] as? String == "stop" {
                #expect((try? JSONSerialization.jsonObject(with: Data(content.utf8))) is [String: Any], "\(content)")
            } else {
                #expect(content.hasPrefix("{"), "\(content)")  // cut by max_tokens: a valid prefix
                // Only a character cut by max_tokens at the very end may be replaced.
                var body = content
                while body.hasSuffix("\u{FFFD}") { body.removeLast() }
                #expect(!body.contains("\u{FFFD}"), "strings stay valid UTF-8")
            }
        }
        await s.stop()
    }

    // Short: the tiny model's context is 256 byte-sized tokens.
    static let tools =
        #""tools":[{"type":"function","function":{"name":"set","parameters":{"type":"object","properties":{"m":{"enum":["a","b"]},"on":{"type":"boolean"}}}}},{"type":"function","function":{"name":"reset","parameters":{"type":"object","properties":{}}}}]"#

    @Test("a required tool call is well-formed and follows the tool's parameters", arguments: [false, true])
    func toolCalls(stream: Bool) async throws {
        let s = try await TestServer()
        for seed in 0..<4 {
            let body =
                #"{"messages":[{"role":"user","content":"go"}],"max_tokens":60,"temperature":1,"seed":\#(seed),"tool_choice":"required","stream":\#(stream),\#(Self.tools)}"#
            let r = try await s.send("POST", "/v1/chat/completions", json: body)
            #expect(r.status == 200)
            var calls: [[String: Any]] = []
            var finish: String?
            if stream {
                var parser = SSEParser()
                for e in parser.feed(r.body).dropLast() {
                    let choice = ((try JSONSerialization.jsonObject(with: Data(e.utf8)) as? [String: Any])?["choices"] as? [[String: Any]])?
                        .first
                    calls += ((choice?["delta"] as? [String: Any])?["tool_calls"] as? [[String: Any]]) ?? []
                    finish = (choice?["finish_reason"] as? String) ?? finish
                }
            } else {
                let choice = try #require((try s.object(r)["choices"] as? [[String: Any]])?.first)
                calls = ((choice["message"] as? [String: Any])?["tool_calls"] as? [[String: Any]]) ?? []
                finish = choice["finish_reason"] as? String
            }
            #expect(finish == "tool_calls")
            let function = try #require(calls.first?["function"] as? [String: Any])
            let arguments = try #require(function["arguments"] as? String)
            let parsed = try #require(try JSONSerialization.jsonObject(with: Data(arguments.utf8)) as? [String: Any])
            switch function["name"] as? String {
            case "set":
                #expect(["a", "b"].contains(parsed["m"] as? String))
                #expect(parsed["on"] is Bool)
            case "reset":
                #expect(parsed.isEmpty)
            case let other:
                Issue.record("unexpected tool \(String(describing: other))")
            }
        }
        await s.stop()
    }

    @Test("json_schema output parses and matches the schema")
    func jsonSchema() async throws {
        let s = try await TestServer()
        let format =
            #""response_format":{"type":"json_schema","json_schema":{"name":"c","schema":{"type":"object","properties":{"color":{"enum":["red","green"]},"ok":{"type":"boolean"},"tags":{"type":"array","items":{"enum":["x","y"]}}}}}}"#
        for seed in 0..<4 {
            let r = try await s.send(
                "POST", "/v1/chat/completions",
                json: #"{"messages":[{"role":"user","content":"pick"}],"max_tokens":80,"temperature":1,"seed":\#(seed),\#(format)}"#)
            let choice = try #require((try s.object(r)["choices"] as? [[String: Any]])?.first)
            guard choice["finish_reason"] as? String == "stop" else { continue }  // a long array may hit max_tokens
            let content = try #require((choice["message"] as? [String: Any])?["content"] as? String)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(content.utf8)) as? [String: Any])
            #expect(Set(object.keys) == ["color", "ok", "tags"])
            #expect(["red", "green"].contains(object["color"] as? String))
        }
        let bad = try await s.send(
            "POST", "/v1/chat/completions",
            json:
                #"{"messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_schema","json_schema":{"schema":{"oneOf":[]}}}}"#
        )
        #expect(bad.status == 400)
        #expect(String(decoding: bad.body, as: UTF8.self).contains("'oneOf'"))
        let unknownTool = try await s.send(
            "POST", "/v1/chat/completions",
            json:
                #"{"messages":[{"role":"user","content":"x"}],"tool_choice":{"type":"function","function":{"name":"nope"}},\#(Self.tools)}"#
        )
        #expect(unknownTool.status == 400)
        await s.stop()
    }

    @Test("300 malformed bodies get 4xx answers and the server stays healthy")
    func fuzz() async throws {
        let s = try await TestServer()
        var rng = SystemRandomNumberGenerator()
        let seeds = [#"{"messages":[{"role":"user","content":"x"}],"max_tokens":2}"#, #"{"prompt":"x","max_tokens":2}"#]
        for i in 0..<300 {
            var bytes = Array(seeds[i % 2].utf8)
            for _ in 0..<Int.random(in: 1...6, using: &rng) {
                let at = Int.random(in: 0..<bytes.count, using: &rng)
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: bytes[at] = UInt8.random(in: 0...255, using: &rng)
                case 1: bytes.remove(at: at)
                default: bytes.insert(Array("{}[]\":,0-e\\".utf8).randomElement(using: &rng)!, at: at)
                }
            }
            let r = try await s.send(
                "POST", i % 2 == 0 ? "/v1/chat/completions" : "/v1/completions", json: String(decoding: bytes, as: UTF8.self))
            #expect(r.status == 200 || (400..<500).contains(r.status), "status \(r.status) for \(String(decoding: bytes, as: UTF8.self))")
        }
        #expect(try await s.send("GET", "/health").status == 200)
        var stats = s.engine.stats
        for _ in 0..<200 where stats.running > 0 {
            try await Task.sleep(for: .milliseconds(10))
            stats = s.engine.stats
        }
        #expect(stats.kvBlocksUsed == 0)
        await s.stop()
    }
}

final class Counter: Sendable {
    private let value = Mutex(0)
    func increment() -> Int {
        value.withLock {
            $0 += 1
            return $0
        }
    }
}
