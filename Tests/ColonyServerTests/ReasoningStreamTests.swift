import ColonyBench
import ColonyEngine
import ColonyHTTP
import ColonyModels
import Foundation
import Testing

@testable import ColonyServer

/// A backend that answers every request with the same pieces of text, as a reasoning model would.
final class ScriptedBackend: InferenceBackend {
    let engine: Engine
    let pieces: [String]
    init(_ engine: Engine, pieces: [String]) {
        self.engine = engine
        self.pieces = pieces
    }

    var tokenizer: Tokenizer { engine.tokenizer }
    var maxContextTokens: Int { engine.maxContextTokens }
    func submit(_ request: EngineRequest) async throws(EngineError) -> AsyncThrowingStream<EngineEvent, Error> {
        let (stream, continuation) = AsyncThrowingStream<EngineEvent, Error>.makeStream()
        for p in pieces { continuation.yield(.token(id: 0, text: p)) }
        let usage = Usage(promptTokens: request.promptTokens.count, completionTokens: pieces.count, cachedPromptTokens: 0)
        continuation.yield(.finished(.stop, usage, trailingText: ""))
        continuation.finish()
        return stream
    }
    func cancel(_ id: String) async {}
    var stats: EngineStats { get async { await engine.stats } }
    var health: BackendHealth { get async { await engine.health } }
    func shutdown(cancelInFlight: Bool) async { await engine.shutdown(cancelInFlight: cancelInFlight) }
}

@Suite("reasoning models: <think> goes to reasoning_content, streamed or not", .serialized)
struct ReasoningStreamTests {
    static let pieces = ["<th", "ink>", "The user", " greets.", "</think>", "\n\nHel", "lo!"]

    @Test("a streamed reply sends reasoning_content deltas, then content; the whole reply splits the same way")
    func reasoning() async throws {
        let s = try await TestServer(wrap: { ScriptedBackend($0, pieces: Self.pieces) })
        let body = #"{"messages":[{"role":"user","content":"hi"}],"max_tokens":20,"stream":true}"#
        let r = try await s.send("POST", "/v1/chat/completions", json: body)
        #expect(r.status == 200)
        var parser = SSEParser()
        var reasoning = ""
        var content = ""
        var reasoningChunks = 0
        for e in parser.feed(r.body).dropLast() {
            let choice = ((try JSONSerialization.jsonObject(with: Data(e.utf8)) as? [String: Any])?["choices"] as? [[String: Any]])?.first
            let delta = choice?["delta"] as? [String: Any]
            if let t = delta?["reasoning_content"] as? String {
                reasoning += t
                reasoningChunks += 1
                #expect(content.isEmpty, "reasoning comes before the answer")
            }
            content += (delta?["content"] as? String) ?? ""
        }
        #expect(reasoning == "The user greets.")
        #expect(reasoningChunks >= 2, "reasoning streams as it comes, not in one piece at the end")
        #expect(content.trimmingWhitespace() == "Hello!")

        let whole = try await s.send("POST", "/v1/chat/completions", json: body.replacingOccurrences(of: "true}", with: "false}"))
        let message = try #require(((try s.object(whole)["choices"] as? [[String: Any]])?.first)?["message"] as? [String: Any])
        #expect(message["reasoning_content"] as? String == "The user greets.")
        #expect(message["content"] as? String == "Hello!")
        await s.stop()
    }

    @Test("a registry version served names itself in the model field and an x-colony-model-version header")
    func versionHeader() async throws {
        let s = try await TestServer(modelVersion: "tiny@v0123456789ab")
        let r = try await s.send("POST", "/v1/completions", json: #"{"prompt":"the","max_tokens":2}"#)
        #expect(r.status == 200)
        #expect(r.headers["x-colony-model-version"] == "tiny@v0123456789ab")
        #expect(try s.object(r)["model"] as? String == "tiny@v0123456789ab")
        await s.stop()
    }

    @Test("chat_template_kwargs must be an object")
    func kwargsValidated() async throws {
        let s = try await TestServer()
        let r = try await s.send(
            "POST", "/v1/chat/completions", json: #"{"messages":[{"role":"user","content":"hi"}],"chat_template_kwargs":[1]}"#)
        #expect(r.status == 400)
        let error = try #require(try s.object(r)["error"] as? [String: Any])
        #expect(error["param"] as? String == "chat_template_kwargs")
        #expect((error["message"] as? String)?.contains("must be an object") == true)
        let ok = try await s.send(
            "POST", "/v1/chat/completions",
            json: #"{"messages":[{"role":"user","content":"hi"}],"max_tokens":2,"chat_template_kwargs":{"enable_thinking":false}}"#)
        #expect(ok.status == 200)
        await s.stop()
    }
}
