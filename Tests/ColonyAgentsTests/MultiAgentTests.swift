@testable import ColonyAgents
import Testing

@Suite("Multi-agent")
struct MultiAgentTests {
    @Test("a supervisor delegates to a worker and answers with its result")
    func delegation() async throws {
        let bus = MessageBus()
        let worker = Agent(spec: AgentSpec(name: "calc", instructions: "compute", tools: [CalculatorTool()]),
                           client: ScriptedClient([AgentTests.call("calculator", #"{"expression":"17*23"}"#),
                                                   AgentTests.call("final_answer", #"{"answer":"391"}"#)]))
        await bus.register(worker: worker)
        await bus.register("boss")
        let supervisorClient = ScriptedClient([AgentTests.call("send_message", #"{"to":"calc","message":"What is 17*23?"}"#),
                                               AgentTests.call("final_answer", #"{"answer":"The product is 391"}"#)])
        let supervisor = Agent(spec: AgentSpec(name: "boss", instructions: "delegate",
                                               tools: [SendMessageTool(bus: bus, sender: "boss", recipients: ["calc"])]),
                               client: supervisorClient)
        let run = try await supervisor.run(task: "Multiply 17 by 23.")
        #expect(run.answer == "The product is 391")
        #expect(run.steps[0].results == ["391"])
        // The reply carries the request's id.
        let inbox = await bus.drain("boss")
        #expect(inbox.count == 1 && inbox[0].from == "calc" && inbox[0].content == "391")
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
        await #expect(throws: ToolError("send_message: there is no agent 'z'; agents: a, b, c")) { try await bus.send(from: "a", to: "z", content: "x") }
        await #expect(throws: ToolError.self) { try await bus.request(from: "a", to: "b", content: "x") }
    }
}
