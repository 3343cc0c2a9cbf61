import ColonyEngine
import Foundation
import Logging
import MCP
import SystemPackage

/// How to start an MCP server that speaks JSON-RPC over its stdin and stdout.
public struct MCPServerConfiguration: Sendable, Equatable {
    /// The prefix of its tools' names as agents see them (`NAME.tool`).
    public var name: String
    /// The program and its arguments; the program is looked up on `PATH`.
    public var command: [String]
    /// Extra environment variables for the server.
    public var environment: [String: String]

    public init(name: String, command: [String], environment: [String: String] = [:]) {
        self.name = name
        self.command = command
        self.environment = environment
    }
}

/// A failure to start or talk to an MCP server, with what to do about it.
public enum MCPServerError: Error, Equatable, CustomStringConvertible {
    /// The server's `command` names no program.
    case emptyCommand(server: String)
    /// The program could not be started; `reason` is the system's error.
    case cannotStart(server: String, program: String, reason: String)
    /// The server gave no answer within `seconds` (the handshake's `reason` when it stayed silent).
    case noAnswer(seconds: Double)
    /// The MCP handshake failed; `exitStatus` is set when the program had already exited.
    case handshakeFailed(server: String, command: [String], exitStatus: Int32?, reason: String)

    public var description: String {
        switch self {
        case .emptyCommand(let server):
            "MCP server '\(server)': command is empty; give the program and its arguments"
        case .cannotStart(let server, let program, let reason):
            "MCP server '\(server)': cannot start '\(program)': \(reason)"
        case .noAnswer(let seconds):
            "no answer within \(seconds) s"
        case .handshakeFailed(let server, let command, let exitStatus, let reason):
            "MCP server '\(server)' (\(command.joined(separator: " "))) did not complete the handshake"
                + (exitStatus.map { " (it exited with status \($0))" } ?? "") + ": \(reason)"
        }
    }
}

/// A running MCP server child process and the client session to it.
///
/// The child is stopped by `shutdown()`; a server that exits on its own fails its
/// pending and later calls with an error the model sees, instead of hanging them.
public actor MCPServer {
    public let config: MCPServerConfiguration
    private let process: Process
    private let client: Client
    private let pipes: (stdin: Pipe, stdout: Pipe)
    private var exited = false
    private let logger = Logger(label: "colony.mcp")

    private init(config: MCPServerConfiguration, process: Process, client: Client, pipes: (stdin: Pipe, stdout: Pipe)) {
        self.config = config
        self.process = process
        self.client = client
        self.pipes = pipes
    }

    /// Starts the server and completes the MCP handshake within `timeout` seconds (30 by
    /// default: servers started through npx or uvx may fetch packages on their first start).
    public static func launch(_ config: MCPServerConfiguration, timeout: Double = 30) async throws -> MCPServer {
        guard let program = config.command.first, !program.isEmpty else {
            throw MCPServerError.emptyCommand(server: config.name)
        }
        // A server that exits while we write to it must be an error, not a SIGPIPE that
        // kills the whole agent process.
        signal(SIGPIPE, SIG_IGN)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = config.command
        process.environment = ProcessInfo.processInfo.environment.merging(config.environment) { $1 }
        let stdin = Pipe()
        let stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        do {
            try process.run()
        } catch {
            throw MCPServerError.cannotStart(server: config.name, program: program, reason: "\(error)")
        }
        let transport = StdioTransport(
            input: FileDescriptor(rawValue: stdout.fileHandleForReading.fileDescriptor),
            output: FileDescriptor(rawValue: stdin.fileHandleForWriting.fileDescriptor))
        let client = Client(name: "colony", version: "0.1")
        let server = MCPServer(config: config, process: process, client: client, pipes: (stdin, stdout))
        process.terminationHandler = { _ in Task { await server.childExited() } }
        let handshake: Result<Void, any Error> =
            await firstResult(within: timeout) {
                do {
                    _ = try await client.connect(transport: transport)
                    return .success(())
                } catch {
                    return .failure(error)
                }
            } ?? .failure(MCPServerError.noAnswer(seconds: timeout))
        if case .failure(let error) = handshake {
            await server.shutdown()
            let exitStatus = process.isRunning ? nil : process.terminationStatus
            throw MCPServerError.handshakeFailed(server: config.name, command: config.command, exitStatus: exitStatus, reason: "\(error)")
        }
        return server
    }

    /// False once the child process has exited: its tools fail every call from then on.
    public var isRunning: Bool { !exited }

    /// The server's tools, named `SERVER.TOOL`, ready to give to an agent.
    public func tools() async throws -> [any Tool] {
        var all: [MCP.Tool] = []
        var cursor: String? = nil
        repeat {
            let page = try await client.listTools(cursor: cursor)
            all += page.tools
            cursor = page.nextCursor
        } while cursor != nil
        return all.map { MCPTool(server: self, remote: $0) }
    }

    /// Calls `name` with JSON object `arguments`; the text contents of the result, joined.
    func call(_ name: String, arguments: String) async throws -> String {
        if exited { throw ToolError.serverExited(server: config.name) }
        let object: [String: MCP.Value]
        do {
            object = try JSONDecoder().decode([String: MCP.Value].self, from: Data(arguments.utf8))
        } catch {
            throw ToolError.notAnObject(tool: "\(config.name).\(name)", arguments: arguments)
        }
        let result = try await client.callTool(name: name, arguments: object)
        let text = result.content.map { content -> String in
            switch content {
            case .text(let text, _, _): return text
            default: return "[non-text content]"
            }
        }.joined(separator: "\n")
        if result.isError == true { throw ToolError.failed(tool: "\(config.name).\(name)", message: text) }
        return text
    }

    /// Ends the session and stops the child.
    public func shutdown() async {
        await client.disconnect()
        if process.isRunning {
            process.terminate()
        }
        try? pipes.stdin.fileHandleForWriting.close()
    }

    private func childExited() async {
        guard !exited else { return }
        exited = true
        logger.warning("MCP server '\(config.name)' exited with status \(process.terminationStatus)")
        // The SDK's receive loop spins on a finished stream; disconnecting stops it and
        // fails the requests still waiting for an answer.
        await client.disconnect()
    }
}

/// One tool of an MCP server, as a Colony `Tool`.
struct MCPTool: Tool {
    let server: MCPServer
    let remoteName: String
    let name: String
    let description: String
    let parametersJSON: String
    let isIdempotent: Bool

    init(server: MCPServer, remote: MCP.Tool) {
        self.server = server
        remoteName = remote.name
        name = "\(server.config.name).\(remote.name)"
        description = remote.description ?? remote.name
        // The engine constrains decoding to a subset of JSON Schema; a tool whose schema
        // goes beyond it still gets well-formed (free) object arguments, and the server
        // validates them.
        let encoded = (try? JSONEncoder().encode(remote.inputSchema)).flatMap { String(data: $0, encoding: .utf8) } ?? #"{"type":"object"}"#
        let supported = (try? JSONSchema(json: JSONSerialization.jsonObject(with: Data(encoded.utf8)))) != nil
        parametersJSON = supported ? encoded : #"{"type":"object"}"#
        let hints = remote.annotations
        isIdempotent = hints.readOnlyHint == true || hints.idempotentHint == true
    }

    func call(arguments: String) async throws -> String {
        try await server.call(remoteName, arguments: arguments)
    }
}
