import ColonyModels
import ColonyStore
import Foundation
import Synchronization
import Testing

@testable import ColonyAgents

/// Answers every task at once with its own text reversed, and counts how many requests were
/// in flight together.
final class EchoClient: LLMClient {
    let inFlight = Mutex((now: 0, most: 0))

    func complete(_ request: LLMRequest) async throws -> LLMReply {
        inFlight.withLock {
            $0.now += 1
            $0.most = max($0.most, $0.now)
        }
        try await Task.sleep(for: .milliseconds(20))
        inFlight.withLock { $0.now -= 1 }
        let task = request.messages.last { $0.role == "user" }?.content ?? ""
        if task.hasPrefix("fail") { throw AgentError.noRun(id: "scripted failure") }
        let answer = String(task.reversed())
        return LLMReply(
            toolCalls: [ToolCall(name: "final_answer", arguments: #"{"answer":"\#(answer)"}"#)], promptTokens: 3, completionTokens: 2)
    }
}

@Suite("Agent pool")
struct AgentPoolTests {
    static let spec = try! AgentSpecFile.parse("name: pool\ninstructions: Answer.\ntools: [calculator]\nmax_steps: 2\n")

    static func pool(_ client: any LLMClient, spec: AgentSpecFile = spec) async throws -> AgentPool {
        try await AgentPool.start(
            spec, client: client, store: try SQLiteStore(path: ":memory:"),
            workspace: FileManager.default.temporaryDirectory.appendingPathComponent("pool-\(UUID().uuidString)"))
    }

    @Test("a swarm runs every task, at most `concurrency` at once, results in task order, failures as nil")
    func swarm() async throws {
        let client = EchoClient()
        let pool = try await Self.pool(client)
        let tasks = ["abc", "fail-1", "hello", "xy", "12", "q"]
        var progress: [Int] = []
        let runs = await pool.swarm(tasks, concurrency: 2) { progress.append($0) }
        await pool.shutdown()
        #expect(runs.map { $0?.answer } == ["cba", nil, "olleh", "yx", "21", "q"])
        #expect(progress == [1, 2, 3, 4, 5, 6])
        #expect(client.inFlight.withLock { $0.most } == 2)
        for run in runs.compactMap({ $0 }) { #expect(try await pool.store.run(id: run.id)?.status == "answered") }

        let summary = SwarmSummary(runs: runs, expected: ["cba", "x", "nope", nil, "21", nil])
        #expect(summary.runs == 6 && summary.failed == 1)
        #expect(summary.graded == 4 && summary.solved == 2, "cba and 21 right, nope wrong, the failed run counts as graded and wrong")
        #expect(summary.stepSeconds.count == 5 && summary.stepSeconds == summary.stepSeconds.sorted())
        #expect(summary.tokens == 25)
    }

    @Test("the pool's agents get the spec's built-in tools and the MCP servers' tools")
    func tools() async throws {
        let spec = try AgentSpecFile.parse(
            """
            name: pool
            instructions: Answer.
            tools: [calculator]
            mcp_servers:
              - name: calc
                command: [python3, \(MCPTests.serverScript)]
            """)
        let pool = try await Self.pool(EchoClient(), spec: spec)
        #expect(pool.spec.tools.map(\.name) == ["calculator", "calc.add", "calc.shout", "calc.crash"])
        let answer = try await pool.closing { try await $0.agent().run(task: "ok", store: $0.store).answer }
        #expect(answer == "ko")
    }

    @Test("closing passes on the body's error")
    func closingRethrows() async throws {
        let pool = try await Self.pool(EchoClient())
        await #expect(throws: AgentError.noRun(id: "stop")) {
            _ = try await pool.closing { _ -> Int in throw AgentError.noRun(id: "stop") }
        }
    }

    @Test("a server that cannot start fails the pool with its error")
    func badServer() async throws {
        let spec = try AgentSpecFile.parse(
            """
            name: pool
            instructions: Answer.
            mcp_servers:
              - name: missing
                command: [/nonexistent/mcp-server]
            """)
        await #expect(throws: (any Error).self) { try await Self.pool(EchoClient(), spec: spec) }
    }
}
