import ColonyModels
import ColonyStore
import Foundation
import Testing

@testable import ColonyAgents

@Suite("Multi-agent")
struct MultiAgentTests {
    @Test("a supervisor delegates to a worker and answers with its result")
    func delegation() async throws {
        let bus = MessageBus()
        let worker = Agent(
            spec: AgentSpec(name: "calc", instructions: "compute", tools: [CalculatorTool()]),
            client: ScriptedClient([
                AgentTests.call("calculator", #"{"expression":"17*23"}"#),
                AgentTests.call("final_answer", #"{"answer":"391"}"#),
            ]))
        await bus.register(worker: worker)
        await bus.register("boss")
        let supervisorClient = ScriptedClient([
            AgentTests.call("send_message", #"{"to":"calc","message":"What is 17*23?"}"#),
            AgentTests.call("final_answer", #"{"answer":"The product is 391"}"#),
        ])
        var spec = AgentSpec(
            name: "boss", instructions: "delegate", tools: [SendMessageTool(bus: bus, sender: "boss", recipients: ["calc"])])
        // send_message waits for the worker's whole run; on a machine saturated by other
        // test processes that can exceed the default 10 s even for a scripted worker.
        spec.toolTimeout = 120
        let supervisor = Agent(spec: spec, client: supervisorClient)
        let run = try await supervisor.run(task: "Multiply 17 by 23.")
        #expect(run.answer == "The product is 391")
        #expect(run.steps[0].results == ["391"])
        // The reply carries the request's id.
        let inbox = await bus.drain("boss")
        try #require(inbox.count == 1)
        #expect(inbox[0].from == "calc" && inbox[0].content == "391")
        let request = await bus.drain("calc")
        #expect(inbox[0].correlationID == request.first?.id)
        // The tool's schema only allows real recipients.
        #expect(SendMessageTool(bus: bus, sender: "boss", recipients: ["calc"]).parametersJSON.contains(#""enum":["calc"]"#))
    }

    @Test("broadcast reaches every other member; unknown recipients are errors")
    func broadcast() async throws {
        let bus = MessageBus()
        for name in ["a", "b", "c"] { await bus.register(name) }
        let sent = try await bus.broadcast(from: "a", content: "hello")
        #expect(sent.map(\.to) == ["b", "c"])
        #expect(await bus.drain("b").map(\.content) == ["hello"])
        #expect(await bus.drain("a").isEmpty)
        await #expect(throws: ToolError.noAgent("z", agents: ["a", "b", "c"])) { try await bus.send(from: "a", to: "z", content: "x") }
        #expect(ToolError.noAgent("z", agents: ["a", "b", "c"]).description == "send_message: there is no agent 'z'; agents: a, b, c")
        await #expect(throws: ToolError.self) { try await bus.request(from: "a", to: "b", content: "x") }
    }
}

@Suite("Task suite")
struct TaskSuiteTests {
    static let delegate = TaskSuite.tasks.first { $0.worker != nil }!

    /// A client that plays supervisor or worker depending on which tools it is offered.
    final class RoleClient: LLMClient {
        let supervisor: ScriptedClient, worker: ScriptedClient
        init(supervisor: [LLMReply], worker: [LLMReply]) {
            self.supervisor = ScriptedClient(supervisor)
            self.worker = ScriptedClient(worker)
        }
        func complete(_ request: LLMRequest) async throws -> LLMReply {
            try await (request.tools.contains { $0.name == "send_message" } ? supervisor : worker).complete(request)
        }
    }

    @Test("the delegation task rewards a right answer obtained through the worker")
    func delegationRewarded() async throws {
        let client = RoleClient(
            supervisor: [
                AgentTests.call("send_message", #"{"to":"worker","message":"37 * 12"}"#),
                AgentTests.call("final_answer", #"{"answer":"444"}"#),
            ],
            worker: [AgentTests.call("calculator", #"{"expression":"37 * 12"}"#), AgentTests.call("final_answer", #"{"answer":"444"}"#)])
        let result = try await TaskSuite.run(Self.delegate, client: client, store: try SQLiteStore(path: ":memory:"))
        #expect(result.reward == 1)
        #expect(result.runs.count == 2, "the supervisor's run and the worker's")
        #expect(result.runs[1].steps.first?.results == ["444"])
    }

    @Test("a right answer without delegating earns nothing")
    func guessNotRewarded() async throws {
        let client = RoleClient(supervisor: [AgentTests.call("final_answer", #"{"answer":"444"}"#)], worker: [])
        let result = try await TaskSuite.run(Self.delegate, client: client, store: try SQLiteStore(path: ":memory:"))
        #expect(result.graded.answer == "444")
        #expect(result.reward == 0)
    }
}

@Suite("Fine-tuning data for the task suite")
struct TrainingDataGeneratorTests {
    @Test("scripts/make-train-data describes the real tools and prompts, so training sees what agents see")
    func generatorMatchesTools() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("colony-gen-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/make-train-data").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script, dir.path]
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        struct Line: Decodable {
            let messages: [ChatMessage]
            let tools: [ToolDescription]
        }
        let text = try String(contentsOf: dir.appendingPathComponent("train.jsonl"), encoding: .utf8)
        let lines = try text.split(separator: "\n").map { try JSONDecoder().decode(Line.self, from: Data($0.utf8)) }
        var seen: [String: ToolDescription] = [:]
        for line in lines { for t in line.tools { seen[t.name] = t } }
        let store = try SQLiteStore(path: ":memory:")
        let real: [any Tool] = [
            CalculatorTool(), MemorySaveTool(store: store, namespace: "x"), MemorySearchTool(store: store, namespace: "x"),
            SendMessageTool(bus: MessageBus(), sender: "s", recipients: ["worker"]), FinalAnswerTool(),
        ]
        #expect(seen.count == real.count)
        for tool in real { #expect(seen[tool.name] == ToolDescription(tool), "\(tool.name)") }
        let systems = Set(lines.map { $0.messages[0].content })
        #expect(systems == [TaskSuite.instructions, TaskSuite.supervisorInstructions])
        // Assistant turns are calls exactly as the agent renders them.
        for line in lines {
            for m in line.messages where m.role == "assistant" {
                let object = try #require(try JSONSerialization.jsonObject(with: Data(m.content.utf8)) as? [String: Any])
                let name = try #require(object["name"] as? String)
                let arguments = try JSONSerialization.data(
                    withJSONObject: object["arguments"]!, options: [.sortedKeys, .withoutEscapingSlashes])
                #expect(m.content == Agent.render(ToolCall(name: name, arguments: String(decoding: arguments, as: UTF8.self))))
            }
        }
    }
}
