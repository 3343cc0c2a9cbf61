/// A tool failed in a way the model should hear about (bad arguments, a refused path).
/// Each case keeps what was wrong; `description` is the message the model reads.
public enum ToolError: Error, Equatable, CustomStringConvertible {
    /// `arguments` did not decode as the `expected` type of `tool`.
    case invalidArguments(tool: String, arguments: String, expected: String)
    /// A workspace path was empty.
    case emptyPath
    /// A workspace path was absolute (or started with `~`).
    case absolutePath(String)
    /// A workspace path contained a `..` component.
    case parentComponent(String)
    /// A workspace path resolved (through a link) to somewhere outside the workspace.
    case outsideWorkspace(String)
    /// `workspace.read` found no file of that name.
    case noFile(String)
    /// The calculator's result was infinite or NaN.
    case notFinite
    /// The calculator could not parse its expression: `problem` at 1-based `position`.
    case syntax(problem: String, position: Int)
    /// The calculator does not know function `name`.
    case unknownFunction(String)
    /// `send_message` named an agent that is not a member of the bus.
    case noAgent(String, agents: [String])
    /// `send_message` asked a request of an agent that takes none.
    case takesNoRequests(String, agents: [String])
    /// `memory.save` was given no text.
    case emptyMemory
    /// An MCP server's process has exited, so its tools cannot run.
    case serverExited(server: String)
    /// An MCP tool's arguments were not a JSON object.
    case notAnObject(tool: String, arguments: String)
    /// An MCP tool reported a failure with `message`.
    case failed(tool: String, message: String)

    public var description: String {
        switch self {
        case .invalidArguments(let tool, let arguments, let expected): "\(tool): invalid arguments \(arguments): expected \(expected)"
        case .emptyPath: "workspace: the path is empty"
        case .absolutePath(let path): "workspace: '\(path)' is absolute; use a path relative to the workspace"
        case .parentComponent(let path): "workspace: '\(path)' contains '..'; paths must stay inside the workspace"
        case .outsideWorkspace(let path): "workspace: '\(path)' leads outside the workspace"
        case .noFile(let name): "workspace.read: no file '\(name)'"
        case .notFinite: "the result is not a finite number (division by zero?)"
        case .syntax(let problem, let position): "calculator: \(problem) at position \(position)"
        case .unknownFunction(let name): "calculator: unknown function '\(name)'; known: sqrt, abs, round"
        case .noAgent(let name, let agents): "send_message: there is no agent '\(name)'; agents: \(agents.joined(separator: ", "))"
        case .takesNoRequests(let name, let agents):
            "send_message: agent '\(name)' does not take requests; agents: \(agents.joined(separator: ", "))"
        case .emptyMemory: "memory.save: the text is empty"
        case .serverExited(let server): "MCP server '\(server)' has exited; its tools are unavailable"
        case .notAnObject(let tool, let arguments): "\(tool): arguments must be a JSON object, got \(arguments)"
        case .failed(let tool, let message): "\(tool) failed: \(message)"
        }
    }
}
