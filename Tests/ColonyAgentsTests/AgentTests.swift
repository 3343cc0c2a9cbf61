import ColonyEngine
import ColonyModels
import ColonyStore
import Foundation
import Synchronization
import Testing

@testable import ColonyAgents

/// An `LLMClient` that replays scripted replies and records what it was asked.
final class ScriptedClient: LLMClient {
    private let replies: Mutex<[LLMReply]>
    let requests = Mutex<[LLMRequest]>([])
    init(_ replies: [LLMReply]) { self.replies = Mutex(replies) }

    func complete(_ request: LLMRequest) async throws -> LLMReply {
        requests.withLock { $0.append(request) }
        return replies.withLock {
            $0.isEmpty ? LLMReply(toolCalls: [ToolCall(name: "calculator", arguments: #"{"expression":"1"}"#)]) : $0.removeFirst()
        }
    }
}

struct SlowTool: Tool {
    let name = "slow"
    let description = "Never finishes in time."
    let parametersJSON = #"{"type":"object","properties":{}}"#
    let isIdempotent = true
    func call(arguments: String) async throws -> String {
        try await Task.sleep(for: .seconds(30))
        return "done"
    }
}

@Suite("Agent loop")
struct AgentTests {
    static func call(_ name: String, _ arguments: String) -> LLMReply {
        LLMReply(toolCalls: [ToolCall(name: name, arguments: arguments)], promptTokens: 10, completionTokens: 5)
    }

    @Test("a tool result reaches the model and the final answer ends the run")
    func calculatorThenAnswer() async throws {
        let client = ScriptedClient([
            Self.call("calculator", #"{"expression":"17 * 23"}"#), Self.call("final_answer", #"{"answer":"391"}"#),
        ])
        var spec = AgentSpec(name: "math", instructions: "Use the calculator.", tools: [CalculatorTool()])
        spec.maxSteps = 4
        let run = try await Agent(spec: spec, client: client).run(task: "What is 17 times 23?")
        #expect(run.finish == .answered)
        #expect(run.answer == "391")
        #expect(run.steps.count == 2)
        #expect(run.steps[0].results == ["391"])
        let second = try #require(client.requests.withLock { $0.last })
        #expect(second.messages.last == ChatMessage(role: "tool", content: Agent.toolMessage("calculator", "391")))
        #expect(second.tools.map(\.name) == ["calculator", "final_answer"])
    }

    @Test("bad arguments, unknown tools and failures become messages, not crashes")
    func errorsFedBack() async throws {
        let client = ScriptedClient([
            Self.call("calculator", #"{"expr":"1+1"}"#),
            Self.call("calculator", #"{"expression":"2 +* 3"}"#),
            Self.call("teleport", "{}"),
            Self.call("final_answer", #"{"answer":"gave up"}"#),
        ])
        let run = try await Agent(spec: AgentSpec(name: "a", instructions: "", tools: [CalculatorTool()]), client: client).run(task: "x")
        #expect(run.answer == "gave up")
        #expect(run.steps[0].results[0].hasPrefix("error: calculator: invalid arguments"))
        #expect(run.steps[1].results[0] == "error: calculator: unexpected '*' at position 4")
        #expect(run.steps[2].results[0] == "error: there is no tool 'teleport'; tools: calculator, final_answer")
    }

    @Test("limits end the run: steps, token budget and tool timeouts")
    func limits() async throws {
        var spec = AgentSpec(name: "a", instructions: "", tools: [CalculatorTool(), SlowTool()])
        spec.maxSteps = 3
        let endless = try await Agent(spec: spec, client: ScriptedClient([])).run(task: "x")
        #expect(endless.finish == .maxSteps && endless.steps.count == 3)

        spec.tokenBudget = 20
        let budget = try await Agent(
            spec: spec,
            client: ScriptedClient(
                [Self.call("calculator", #"{"expression":"1"}"#)]
                    + Array(repeating: Self.call("calculator", #"{"expression":"2"}"#), count: 5))
        ).run(task: "x")
        #expect(budget.finish == .budget && budget.steps.count == 2)

        spec.toolTimeout = 0.05
        let slow = try await Agent(
            spec: spec, client: ScriptedClient([Self.call("slow", "{}"), Self.call("final_answer", #"{"answer":"ok"}"#)])
        ).run(task: "x")
        #expect(slow.steps[0].results == ["error: slow timed out after 0.05 s"])
    }
}

@Suite("Built-in tools")
struct ToolTests {
    @Test(
        "the calculator parses precedence, powers, functions and reports errors",
        arguments: [
            ("1 + 2 * 3", "7"), ("(1 + 2) * 3", "9"), ("2 ^ 3 ^ 2", "512"), ("-2 ^ 2", "4"), ("10 / 4", "2.5"),
            ("7 % 3", "1"), ("sqrt(16) + abs(-3)", "7"), ("round(2.6)", "3"), ("0.1 + 0.2", "0.3"),
        ])
    func calculator(expression: String, expected: String) throws {
        #expect(CalculatorTool.format(try CalculatorTool.evaluate(expression)) == expected)
    }

    @Test(
        "calculator errors name the problem",
        arguments: [
            ("1 +", ToolError.syntax(problem: "expected a number", position: 4)), ("(1", .syntax(problem: "expected ')'", position: 3)),
            ("1 / 0", .notFinite), ("foo(1)", .unknownFunction("foo")), ("2 3", .syntax(problem: "unexpected '3'", position: 3)),
        ])
    func calculatorErrors(expression: String, error: ToolError) {
        #expect(throws: error) { try CalculatorTool.evaluate(expression) }
    }

    @Test("calculator error messages keep their text")
    func calculatorErrorText() {
        #expect(ToolError.syntax(problem: "expected a number", position: 4).description == "calculator: expected a number at position 4")
        #expect(ToolError.syntax(problem: "expected ')'", position: 3).description == "calculator: expected ')' at position 3")
        #expect(ToolError.notFinite.description == "the result is not a finite number (division by zero?)")
        #expect(ToolError.unknownFunction("foo").description == "calculator: unknown function 'foo'; known: sqrt, abs, round")
        #expect(ToolError.syntax(problem: "unexpected '3'", position: 3).description == "calculator: unexpected '3' at position 3")
    }

    @Test("bad tool arguments name the tool, the text and the expected shape")
    func invalidArguments() async {
        let error = ToolError.invalidArguments(tool: "calculator", arguments: "[1]", expected: "Arguments")
        await #expect(throws: error) { try await CalculatorTool().call(arguments: "[1]") }
        #expect(error.description == "calculator: invalid arguments [1]: expected Arguments")
        await #expect(throws: ToolError.emptyMemory) {
            try await MemorySaveTool(store: try SQLiteStore(path: ":memory:"), namespace: "n").call(arguments: #"{"text":""}"#)
        }
        #expect(ToolError.emptyMemory.description == "memory.save: the text is empty")
    }

    @Test("the workspace keeps files inside its folder")
    func workspace() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("colony-ws-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let ws = try Workspace(root: root)
        #expect(
            try await WriteFileTool(workspace: ws).call(arguments: #"{"path":"notes/a.txt","content":"hello"}"#)
                == "wrote 5 bytes to notes/a.txt")
        #expect(try await ReadFileTool(workspace: ws).call(arguments: #"{"path":"notes/a.txt"}"#) == "hello")
        #expect(try await ListFilesTool(workspace: ws).call(arguments: "{}") == "notes\nnotes/a.txt")
        let refusals: [(String, ToolError)] = [
            ("../x", .parentComponent("../x")), ("/etc/passwd", .absolutePath("/etc/passwd")), ("a/../../x", .parentComponent("a/../../x")),
            ("~/x", .absolutePath("~/x")), ("", .emptyPath),
        ]
        for (bad, error) in refusals {
            await #expect(throws: error) { try await ReadFileTool(workspace: ws).call(arguments: #"{"path":"\#(bad)"}"#) }
        }
        #expect(
            ToolError.absolutePath("/etc/passwd").description
                == "workspace: '/etc/passwd' is absolute; use a path relative to the workspace")
        #expect(ToolError.parentComponent("../x").description == "workspace: '../x' contains '..'; paths must stay inside the workspace")
        #expect(ToolError.emptyPath.description == "workspace: the path is empty")
        await #expect(throws: ToolError.noFile("missing.txt")) {
            try await ReadFileTool(workspace: ws).call(arguments: #"{"path":"missing.txt"}"#)
        }
        #expect(ToolError.noFile("missing.txt").description == "workspace.read: no file 'missing.txt'")
        try FileManager.default.createSymbolicLink(atPath: root.appendingPathComponent("out").path, withDestinationPath: "/etc")
        await #expect(throws: ToolError.outsideWorkspace("out/passwd")) {
            try await ReadFileTool(workspace: ws).call(arguments: #"{"path":"out/passwd"}"#)
        }
        #expect(ToolError.outsideWorkspace("out/passwd").description == "workspace: 'out/passwd' leads outside the workspace")
    }
}

@Suite(
    "Agent on the real model",
    .enabled(
        if: FileManager.default.fileExists(atPath: "models/SmolLM2-135M-Instruct.Q4_1.gguf"), "needs the real model: run ./scripts/setup"))
struct RealAgentTests {
    @Test("the in-process engine client always returns well-formed tool calls")
    func engineClient() async throws {
        let file = try GGUFFile(contentsOf: "models/SmolLM2-135M-Instruct.Q4_1.gguf")
        let engine = try Engine(model: try LlamaModel(gguf: file, threads: 2), tokenizer: try Tokenizer(gguf: file))
        let client = EngineClient(engine: engine, template: try ChatTemplate(gguf: file))
        var spec = AgentSpec(
            name: "math", instructions: "Solve the task. Use the calculator for arithmetic, then give the final answer.",
            tools: [CalculatorTool()])
        spec.maxSteps = 4
        spec.maxTokensPerStep = 64
        let run = try await Agent(spec: spec, client: client).run(task: "What is 17 * 23?")
        #expect(!run.steps.isEmpty)
        for step in run.steps {
            for call in step.toolCalls {
                #expect(["calculator", "final_answer"].contains(call.name))
                #expect((try? JSONSerialization.jsonObject(with: Data(call.arguments.utf8))) is [String: Any])
            }
        }
        await engine.shutdown()
    }
}

@Suite("Agent memory")
struct AgentMemoryTests {
    @Test("short-term memory drops the oldest steps first and keeps instructions and task")
    func fit() {
        let messages =
            [ChatMessage(role: "system", content: "rules"), ChatMessage(role: "user", content: "task")]
            + (0..<10).map { ChatMessage(role: "tool", content: String(repeating: "x", count: 400) + "\($0)") }
        let kept = Agent.fit(messages, tokens: 400)
        #expect(kept.prefix(2) == messages.prefix(2))
        #expect(kept[2].content.hasPrefix("(7 earlier messages were dropped"))
        #expect(kept.last == messages.last)
        #expect(kept.count == 2 + 1 + 3)
        #expect(Agent.fit(messages, tokens: 100_000) == messages)
    }

    @Test("relevant long-term memories are put into the prompt")
    func recall() async throws {
        let store = try SQLiteStore(path: ":memory:")
        _ = try await store.saveMemory(namespace: "n", text: "The secret code is 4721.")
        _ = try await store.saveMemory(namespace: "n", text: "Bananas are yellow.")
        var spec = AgentSpec(name: "n", instructions: "answer")
        spec.memory = (store, "n")
        spec.recall = 1
        let client = ScriptedClient([AgentTests.call("final_answer", #"{"answer":"4721"}"#)])
        _ = try await Agent(spec: spec, client: client).run(task: "What is the secret code?")
        let system = try #require(client.requests.withLock { $0.first?.messages.first?.content })
        #expect(system.contains("Relevant memories:\n- The secret code is 4721."))
        #expect(!system.contains("Bananas"))
    }
}
