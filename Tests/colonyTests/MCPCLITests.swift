import ColonyAgents
import Testing

@Suite("colony mcp")
struct MCPCLITests {
    @Test("serves the built-in tools to an MCP client: listed, called, failures returned as errors the model reads")
    func roundTrip() async throws {
        let server = try await MCPServer.launch(MCPServerConfiguration(name: "colony", command: [CLI.binary.path, "mcp"]))
        let tools = try await server.tools()
        #expect(tools.map(\.name) == ["colony.calculator", "colony.convert"])
        let calculator = try #require(tools.first)
        let convert = try #require(tools.last)
        #expect(try await calculator.call(arguments: #"{"expression":"(17 * 23) - 4"}"#) == "387")
        #expect(try await convert.call(arguments: #"{"query":"7 km in m"}"#) == "7000")
        #expect(convert.isIdempotent && convert.parametersJSON.contains("query"))
        await #expect(throws: ToolError.failed(tool: "colony.convert", message: "cannot convert kg (mass) to m (length)")) {
            try await convert.call(arguments: #"{"query":"3 kg in m"}"#)
        }
        await server.shutdown()

        let one = try await MCPServer.launch(
            MCPServerConfiguration(name: "units", command: [CLI.binary.path, "mcp", "--tools", "convert"]))
        #expect(try await one.tools().map(\.name) == ["units.convert"])
        await one.shutdown()
        let bad = try CLI.run(["mcp", "--tools", "convert,weather"])
        #expect(bad.status != 0 && bad.stderr.contains("unknown tool 'weather' in --tools; choose from calculator, convert"))
    }
}
