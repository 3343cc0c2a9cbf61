import ColonyModels
import ColonyStore
import Foundation
import Testing

@testable import ColonyAgents

/// Counts its calls: a retried call shows up as a second count.
final class CountingTool: Tool, @unchecked Sendable {
    // @unchecked: `count` is only touched under `lock`.
    let name: String
    let description = "Counts calls."
    let parametersJSON = #"{"type":"object","properties":{}}"#
    let isIdempotent: Bool
    private let lock = NSLock()
    private var count = 0
    init(name: String, idempotent: Bool) {
        self.name = name
        isIdempotent = idempotent
    }
    var calls: Int { lock.withLock { count } }
    func call(arguments: String) async throws -> String {
        lock.withLock {
            count += 1
            return "call \(count)"
        }
    }
}

@Suite("Durable runs")
struct DurableRunTests {
    static func call(_ name: String, _ arguments: String = "{}") -> LLMReply { AgentTests.call(name, arguments) }

    @Test("a stored run records every step and its outcome")
    func recorded() async throws {
        let store = try SQLiteStore(path: ":memory:")
        let client = ScriptedClient([Self.call("calculator", #"{"expression":"2+2"}"#), Self.call("final_answer", #"{"answer":"4"}"#)])
        let run = try await Agent(spec: AgentSpec(name: "m", instructions: "", tools: [CalculatorTool()]), client: client)
            .run(task: "2+2?", id: "run-1", store: store)
        #expect(run.answer == "4")
        #expect(try await store.run(id: "run-1") == RunRecord(id: "run-1", agent: "m", task: "2+2?", status: "answered", answer: "4"))
        #expect(try await store.steps(runID: "run-1").count == 2)
        #expect(try await store.pendingCalls(runID: "run-1").isEmpty)
        await #expect(throws: AgentError.runEnded(id: "run-1", status: "answered")) {
            try await Agent(spec: AgentSpec(name: "m", instructions: ""), client: client).resume(id: "run-1", store: store)
        }
        #expect(AgentError.runEnded(id: "run-1", status: "answered").description == "run 'run-1' already ended (answered)")
        await #expect(throws: AgentError.noRun(id: "ghost")) {
            try await Agent(spec: AgentSpec(name: "m", instructions: ""), client: client).resume(id: "ghost", store: store)
        }
        #expect(AgentError.noRun(id: "ghost").description == "there is no run 'ghost'")
    }

    @Test("resume after a crash: completed steps are not repeated, unknown outcomes retried only if idempotent")
    func resume() async throws {
        let store = try SQLiteStore(path: ":memory:")
        let safe = CountingTool(name: "safe", idempotent: true)
        let unsafe = CountingTool(name: "unsafe", idempotent: false)
        let spec = AgentSpec(name: "m", instructions: "", tools: [safe, unsafe])
        // The first process completed step 0, then died while step 1's two calls ran.
        try await store.createRun(RunRecord(id: "r", agent: "m", task: "t"))
        try await store.completeStep(
            runID: "r",
            try Agent.encode(
                AgentStep(
                    index: 0, toolCalls: [ToolCall(name: "safe", arguments: "{}")],
                    results: ["call 1"], promptTokens: 5, completionTokens: 5)))
        try await store.recordPendingCalls(
            runID: "r",
            [
                PendingCall(step: 1, position: 0, name: "safe", arguments: "{}"),
                PendingCall(step: 1, position: 1, name: "unsafe", arguments: "{}"),
            ])
        let client = ScriptedClient([Self.call("final_answer", #"{"answer":"done"}"#)])
        let run = try await Agent(spec: spec, client: client).resume(id: "r", store: store)
        #expect(run.answer == "done")
        #expect(run.steps.map(\.index) == [0, 1, 2])
        #expect(run.steps[1].results[0] == "call 1")  // safe ran again (its first run in this process)
        #expect(run.steps[1].results[1].contains("outcome of this call is unknown"))
        #expect(safe.calls == 1 && unsafe.calls == 0)
        #expect(client.requests.withLock { $0.count } == 1, "only the step after the crash asked the model")
        // The conversation the model saw holds the replayed steps.
        let seen = try #require(client.requests.withLock { $0.first }).messages
        #expect(seen.filter { $0.role == "tool" }.count == 3)
        #expect(try await store.run(id: "r")?.status == "answered")
    }

    @Test("a trajectory is one JSON line with messages, steps and reward")
    func trajectory() async throws {
        let client = ScriptedClient([Self.call("calculator", #"{"expression":"6*7"}"#), Self.call("final_answer", #"{"answer":"42"}"#)])
        let run = try await Agent(spec: AgentSpec(name: "m", instructions: "be exact", tools: [CalculatorTool()]), client: client).run(
            task: "6*7?", id: "t1")
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("traj-\(UUID().uuidString).jsonl").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Trajectory(run: run, agent: "m", task: "6*7?", reward: 1).append(to: path)
        try Trajectory(run: run, agent: "m", task: "6*7?", reward: 1).append(to: path)
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 2)
        let back = try JSONDecoder().decode(Trajectory.self, from: Data(lines[0].utf8))
        #expect(back.reward == 1 && back.answer == "42" && back.steps.count == 2)
        #expect(back.messages.map(\.role) == ["system", "user", "assistant", "tool", "assistant"])
        #expect(back.steps[0].results == ["42"])
        let unwritable = "/nonexistent-\(UUID().uuidString)/t.jsonl"
        #expect(throws: AgentError.cannotWrite(path: unwritable)) {
            try Trajectory(run: run, agent: "m", task: "6*7?", reward: 1).append(to: unwritable)
        }
        #expect(AgentError.cannotWrite(path: "/x/t.jsonl").description == "cannot open '/x/t.jsonl' for writing")
    }

    @Test(
        "spec errors name the field and what it must be",
        arguments: [
            (
                "name: a\ninstructions: x\nmax_steps: 0\n",
                AgentError.invalidSpecField(field: "max_steps", problem: "must be between 1 and 100, got 0")
            ),
            ("name: ' '\ninstructions: x\n", .invalidSpecField(field: "name", problem: "must not be empty")),
            (
                "name: a\ninstructions: x\ntools: [shell]\n",
                .invalidSpecField(
                    field: "tools",
                    problem: "lists unknown tool 'shell'; known: calculator, memory.save, memory.search, workspace")
            ),
            ("instructions: x\n", .invalidSpec(reason: "missing field 'name'")),
        ])
    func specErrors(yaml: String, expected: AgentError) {
        #expect(throws: expected) { try AgentSpecFile.parse(yaml) }
    }

    @Test("error messages keep their text")
    func errorText() {
        #expect(
            AgentError.invalidSpecField(field: "max_steps", problem: "must be between 1 and 100, got 0").description
                == "invalid agent spec: field 'max_steps' must be between 1 and 100, got 0")
        #expect(AgentError.invalidSpec(reason: "missing field 'name'").description == "invalid agent spec: missing field 'name'")
        #expect(AgentError.endpointStatus(503, body: "busy").description == "the endpoint answered HTTP 503: busy")
    }
}
