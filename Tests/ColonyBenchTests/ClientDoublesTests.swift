import ColonyAgents
import ColonyBench
import ColonyModels
import Testing

@Suite("Client doubles")
struct ClientDoublesTests {
    @Test("a recording client passes requests on and keeps them with the replies; a replay client returns those replies in order")
    func recordThenReplay() async throws {
        let inner = ReplayClient([LLMReply(text: "one"), LLMReply(text: "two")])
        let recorder = RecordingClient(inner)
        _ = try await recorder.complete(LLMRequest(messages: [ChatMessage(role: "user", content: "a")]))
        _ = try await recorder.complete(LLMRequest(messages: [ChatMessage(role: "user", content: "b")]))
        #expect(recorder.requests.map { $0.messages.last?.content } == ["a", "b"])
        #expect(recorder.replies.map(\.text) == ["one", "two"])

        let replay = ReplayClient(recorder.replies)
        let request = LLMRequest(messages: [])
        #expect(try await replay.complete(request).text == "one")
        #expect(try await replay.complete(request).text == "two")
        #expect(try await replay.complete(request).text == "(no more recorded replies)")
    }
}
