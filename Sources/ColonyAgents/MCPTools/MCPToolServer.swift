import Foundation
import MCP

/// Colony's own tools served over MCP (JSON-RPC on stdin and stdout): `colony mcp` runs one,
/// so any MCP client (Colony's agents, an IDE, another framework) can use them, and the
/// `units` learning family reaches its tool through a real MCP round trip.
///
/// A tool that throws answers with `isError` and its message, which the client hands to
/// the model as it would any MCP server's failure.
public struct MCPToolServer: Sendable {
    public let tools: [any Tool]

    public init(tools: [any Tool]) { self.tools = tools }

    /// Serves on `transport` until the client disconnects (stdin closes, for stdio).
    public func run(transport: any Transport = StdioTransport()) async throws {
        let listed = try tools.map { tool in
            MCP.Tool(
                name: tool.name, description: tool.description,
                inputSchema: try JSONDecoder().decode(Value.self, from: Data(tool.parametersJSON.utf8)),
                annotations: .init(readOnlyHint: tool.isIdempotent, idempotentHint: tool.isIdempotent))
        }
        let byName = Dictionary(uniqueKeysWithValues: tools.map { ($0.name, $0) })
        let server = Server(name: "colony", version: "0.1", capabilities: .init(tools: .init(listChanged: false)))
        await server.withMethodHandler(ListTools.self) { _ in ListTools.Result(tools: listed) }
        await server.withMethodHandler(CallTool.self) { call in
            guard let tool = byName[call.name] else {
                return CallTool.Result(
                    content: [.text("there is no tool '\(call.name)'; tools: \(byName.keys.sorted().joined(separator: ", "))")],
                    isError: true)
            }
            let arguments = String(decoding: try JSONEncoder().encode(call.arguments ?? [:]), as: UTF8.self)
            do {
                return CallTool.Result(content: [.text(try await tool.call(arguments: arguments))])
            } catch ToolError.failed(_, let message) {
                // The client names the tool again ("units.convert failed: …"), so only the message.
                return CallTool.Result(content: [.text(message)], isError: true)
            } catch {
                return CallTool.Result(content: [.text("\(error)")], isError: true)
            }
        }
        try await server.start(transport: transport)
        await server.waitUntilCompleted()
    }
}
