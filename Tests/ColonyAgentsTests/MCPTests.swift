@testable import ColonyAgents
import Foundation
import Testing

@Suite("MCP over stdio")
struct MCPTests {
    static let serverScript = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/mcp_server.py").path

    static func launch(_ extra: [String] = [], timeout: Double = 10) async throws -> MCPServer {
        try await MCPServer.launch(MCPServerConfig(name: "calc", command: ["python3", serverScript] + extra), timeout: timeout)
    }

    @Test("tools are listed with their schemas and calls round-trip")
    func roundTrip() async throws {
        let server = try await Self.launch()
        let tools = try await server.tools()
        #expect(tools.map(\.name) == ["calc.add", "calc.shout", "calc.crash"])
        let add = try #require(tools.first)
        #expect(add.isIdempotent, "readOnlyHint makes a tool safe to retry")
        #expect(!tools[1].isIdempotent)
        #expect(add.parametersJSON.contains(#""required":["a","b"]"#))
        // minLength is beyond the engine's schema subset: the tool still gets free object arguments.
        #expect(tools[1].parametersJSON == #"{"type":"object"}"#)
        #expect(try await add.call(arguments: #"{"a": 2, "b": 40}"#) == "42")
        #expect(try await tools[1].call(arguments: #"{"text": "hi"}"#) == "HI")
        await #expect(throws: ToolError.self) { try await tools[1].call(arguments: #"{"text": ""}"#) }
        await #expect(throws: ToolError.self) { try await add.call(arguments: "[1, 2]") }
        await server.shutdown()
    }

    @Test("an agent calls an MCP tool and sees its result")
    func agentUsesMCPTool() async throws {
        let server = try await Self.launch()
        let client = ScriptedClient([AgentTests.call("calc.add", #"{"a":17,"b":25}"#), AgentTests.call("final_answer", #"{"answer":"42"}"#)])
        let spec = AgentSpec(name: "m", instructions: "", tools: try await server.tools())
        let run = try await Agent(spec: spec, client: client).run(task: "17 + 25?")
        await server.shutdown()
        #expect(run.steps.first?.results == ["42"])
        #expect(run.answer == "42")
    }

    @Test("a server that exits fails its calls with a message instead of hanging")
    func serverExit() async throws {
        let server = try await Self.launch()
        let tools = try await server.tools()
        await #expect(throws: (any Error).self) { try await tools[2].call(arguments: "{}") }
        try await Task.sleep(for: .milliseconds(200))
        let error = await #expect(throws: ToolError.self) { try await tools[0].call(arguments: #"{"a":1,"b":2}"#) }
        #expect(error?.description.contains("has exited") == true)
        await server.shutdown()
    }

    @Test("a missing program or a silent server gives an error that names it")
    func launchErrors() async throws {
        let missing = await #expect(throws: MCPServerError.self) {
            try await MCPServer.launch(MCPServerConfig(name: "nope", command: ["colony-no-such-program"]), timeout: 5)
        }
        #expect(missing?.description.contains("nope") == true)
        let silent = await #expect(throws: MCPServerError.self) { try await Self.launch(["--silent"], timeout: 1) }
        #expect(silent?.description.contains("handshake") == true)
    }

    @Test("spec validation names bad MCP server entries")
    func specValidation() throws {
        let base = "name: a\ninstructions: x\n"
        #expect(throws: AgentError.self) { try AgentSpecFile.parse(base + "mcp_servers:\n  - name: 'bad name'\n    command: [python3]\n") }
        #expect(throws: AgentError.self) { try AgentSpecFile.parse(base + "mcp_servers:\n  - name: s\n    command: []\n") }
        do {
            _ = try AgentSpecFile.parse(base + "mcp_servers:\n  - name: s\n    command: [a]\n  - name: s\n    command: [b]\n")
            Issue.record("a repeated server name was accepted")
        } catch {
            #expect("\(error)".contains("mcp_servers[1].name"))
        }
        let spec = try AgentSpecFile.parse(base + "mcp_servers:\n  - name: s\n    command: [python3, x.py]\n    env: {K: v}\n")
        #expect(spec.mcpServers == [MCPServerConfig(name: "s", command: ["python3", "x.py"], environment: ["K": "v"])])
    }
}
