import ArgumentParser
import ColonyAgents

/// `colony mcp`: Colony's built-in tools as an MCP server on stdin and stdout.
struct MCPTools: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mcp",
        abstract: "Serve Colony's built-in tools over MCP (JSON-RPC on stdin and stdout).",
        discussion: """
            Tools: calculator (arithmetic, e.g. '(17 * 23) - 4 / 2') and convert (units of length, mass and \
            time, e.g. '7 km in m'). Add it to an agent spec as
              mcp_servers:
                - name: colony
                  command: [colony, mcp]
            and its tools appear as colony.calculator and colony.convert. It runs until stdin closes.
            """)

    static let available: [any Tool] = [CalculatorTool(), UnitsTool()]

    @Option(name: .long, help: "Tools to serve, comma-separated (default: all).") var tools: String?

    /// The names `--tools` asks for (nil: all).
    var chosen: [String]? { tools?.split(separator: ",").map(String.init) }

    func validate() throws {
        let names = Self.available.map(\.name)
        if let bad = chosen?.first(where: { !names.contains($0) }) {
            throw ValidationError("unknown tool '\(bad)' in --tools; choose from \(names.joined(separator: ", "))")
        }
    }

    func run() async throws {
        bootstrapLogging(verbose: false)  // stdout carries the protocol, so logs go to stderr
        let served = chosen.map { names in Self.available.filter { names.contains($0.name) } } ?? Self.available
        try await MCPToolServer(tools: served).run()
    }
}
