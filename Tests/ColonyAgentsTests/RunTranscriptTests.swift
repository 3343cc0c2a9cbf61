import ColonyStore
import Testing

@testable import ColonyAgents

@Suite("Run transcript")
struct RunTranscriptTests {
    @Test("a stored run reads back step by step, with tokens, calls, results and the answer")
    func transcript() async throws {
        let store = try SQLiteStore(path: ":memory:")
        let client = ScriptedClient([
            AgentTests.call("calculator", #"{"expression":"17 * 23"}"#), AgentTests.call("final_answer", #"{"answer":"391"}"#),
        ])
        _ = try await Agent(spec: AgentSpec(name: "math", instructions: "", tools: [CalculatorTool()]), client: client)
            .run(task: "17 × 23?", id: "run-7", store: store)
        let text = try #require(try await RunTranscript.text(of: "run-7", in: store))
        #expect(
            text == """
                run run-7 — agent math, answered
                task: 17 × 23?

                step 1 (10 prompt + 5 completion tokens)
                  calculator {"expression":"17 * 23"}
                    → 391

                step 2 (10 prompt + 5 completion tokens)
                  final_answer {"answer":"391"}
                    → 391

                answer: 391

                """)
        #expect(try await RunTranscript.text(of: "missing", in: store) == nil)
    }
}
