/// Why an agent could not be set up, resumed or recorded. Each case keeps what was wrong;
/// `description` is the message users see.
public enum AgentError: Error, Equatable, CustomStringConvertible {
    /// `resume` was asked for a run the store does not hold.
    case noRun(id: String)
    /// `resume` was asked for a run that is no longer "running".
    case runEnded(id: String, status: String)
    /// The spec text is not valid YAML or lacks a field; `reason` says which.
    case invalidSpec(reason: String)
    /// A spec field holds a value it must not; `problem` says what it must be.
    case invalidSpecField(field: String, problem: String)
    /// A trajectory file could not be opened for appending.
    case cannotWrite(path: String)
    /// An OpenAI-compatible endpoint answered with an HTTP error.
    case endpointStatus(Int, body: String)
    /// A tool's parameter schema is not JSON, so it cannot be sent to an endpoint.
    case toolParametersNotJSON(tool: String, parameters: String)
    /// A swarm task file line is not `{"task": …, "expected": …}`.
    case invalidTaskLine(file: String, line: Int)
    /// A file the command needs cannot be read; `what` says which ("spec", "tasks").
    case cannotRead(what: String, path: String)
    /// A swarm task file holds no task.
    case noTasks(file: String)
    /// A task needs the tools of an MCP server that was not started.
    case noToolServer(task: String, server: String)

    public var description: String {
        switch self {
        case .noRun(let id): "there is no run '\(id)'"
        case .runEnded(let id, let status): "run '\(id)' already ended (\(status))"
        case .invalidSpec(let reason): "invalid agent spec: \(reason)"
        case .invalidSpecField(let field, let problem): "invalid agent spec: field '\(field)' \(problem)"
        case .cannotWrite(let path): "cannot open '\(path)' for writing"
        case .endpointStatus(let status, let body): "the endpoint answered HTTP \(status): \(body)"
        case .toolParametersNotJSON(let tool, let parameters): "tool '\(tool)' has parameters that are not JSON: \(parameters)"
        case .invalidTaskLine(let file, let line):
            "\(file):\(line): expected {\"task\": \"...\", \"expected\": \"...\", \"priority\": 0} (\"expected\" and the integer \"priority\" optional)"
        case .noTasks(let file): "\(file) holds no tasks"
        case .cannotRead(let what, let path): "cannot read \(what) '\(path)'"
        case .noToolServer(let task, let server): "task '\(task)' needs the tools of MCP server '\(server)', which is not running"
        }
    }
}
