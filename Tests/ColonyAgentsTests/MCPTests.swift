import Foundation
import Testing

@testable import ColonyAgents

@Suite("MCP over stdio")
struct MCPTests {
    static let serverScript = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/mcp_server.py")
        .path

    static func launch(_ extra: [String] = [], timeout: Double = 60) async throws -> MCPServer {
        try await MCPServer.launch(MCPServerConfiguration(name: "calc", command: ["python3", serverScript] + extra), timeout: timeout)
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
        await #expect(throws: ToolError.notAnObject(tool: "calc.add", arguments: "[1, 2]")) { try await add.call(arguments: "[1, 2]") }
        #expect(
            ToolError.notAnObject(tool: "calc.add", arguments: "[1, 2]").description
                == "calc.add: arguments must be a JSON object, got [1, 2]")
        await server.shutdown()
    }

    @Test("an agent calls an MCP tool and sees its result")
    func agentUsesMCPTool() async throws {
        let server = try await Self.launch()
        let client = ScriptedClient([
            AgentTests.call("calc.add", #"{"a":17,"b":25}"#), AgentTests.call("final_answer", #"{"answer":"42"}"#),
        ])
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
        #expect(error == .serverExited(server: "calc"))
        #expect(ToolError.serverExited(server: "calc").description == "MCP server 'calc' has exited; its tools are unavailable")
        await server.shutdown()
    }

    @Test("a missing program or a silent server gives an error that names it")
    func launchErrors() async throws {
        let missing = await #expect(throws: MCPServerError.self) {
            try await MCPServer.launch(MCPServerConfiguration(name: "nope", command: ["colony-no-such-program"]), timeout: 5)
        }
        #expect(missing?.description.contains("nope") == true)
        // The program is started through env, so it fails in the handshake; the reason comes from the MCP SDK.
        guard case .handshakeFailed(let server, let command, _, _)? = missing else {
            Issue.record("expected a handshake failure, got \(String(describing: missing))")
            return
        }
        #expect(server == "nope" && command == ["colony-no-such-program"])
        let silent = await #expect(throws: MCPServerError.self) { try await Self.launch(["--silent"], timeout: 1) }
        #expect(silent?.description.contains("handshake") == true)
        #expect(
            silent
                == .handshakeFailed(
                    server: "calc", command: ["python3", Self.serverScript, "--silent"], exitStatus: nil,
                    reason: MCPServerError.noAnswer(seconds: 1).description))
        #expect(MCPServerError.noAnswer(seconds: 1).description == "no answer within 1.0 s")
        #expect(
            MCPServerError.handshakeFailed(server: "s", command: ["a", "b"], exitStatus: 127, reason: "EOF").description
                == "MCP server 's' (a b) did not complete the handshake (it exited with status 127): EOF")
        #expect(
            MCPServerError.handshakeFailed(server: "s", command: ["a"], exitStatus: nil, reason: "EOF").description
                == "MCP server 's' (a) did not complete the handshake: EOF")
    }

    @Test("an empty command is refused before anything starts")
    func emptyCommand() async throws {
        await #expect(throws: MCPServerError.emptyCommand(server: "e")) {
            try await MCPServer.launch(MCPServerConfiguration(name: "e", command: [""]))
        }
        #expect(
            MCPServerError.emptyCommand(server: "e").description
                == "MCP server 'e': command is empty; give the program and its arguments")
    }

    @Test("spec validation names bad MCP server entries")
    func specValidation() throws {
        let base = "name: a\ninstructions: x\n"
        let badName = AgentError.invalidSpecField(
            field: "mcp_servers[0].name", problem: "must be letters, digits, '_' or '-', got 'bad name'")
        #expect(throws: badName) {
            try AgentSpecFile.parse(base + "mcp_servers:\n  - name: 'bad name'\n    command: [python3]\n")
        }
        let noProgram = AgentError.invalidSpecField(
            field: "mcp_servers[0].command", problem: "must name a program, e.g. [python3, server.py]")
        #expect(throws: noProgram) {
            try AgentSpecFile.parse(base + "mcp_servers:\n  - name: s\n    command: []\n")
        }
        let repeated = AgentError.invalidSpecField(field: "mcp_servers[1].name", problem: "repeats 's'; each server needs its own name")
        #expect(throws: repeated) {
            try AgentSpecFile.parse(base + "mcp_servers:\n  - name: s\n    command: [a]\n  - name: s\n    command: [b]\n")
        }
        #expect(repeated.description == "invalid agent spec: field 'mcp_servers[1].name' repeats 's'; each server needs its own name")
        let spec = try AgentSpecFile.parse(base + "mcp_servers:\n  - name: s\n    command: [python3, x.py]\n    env: {K: v}\n")
        #expect(spec.mcpServers == [MCPServerConfiguration(name: "s", command: ["python3", "x.py"], environment: ["K": "v"])])
    }
}
