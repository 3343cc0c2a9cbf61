import ColonyModels
import Foundation

/// A finished run as one JSON line: the experience the trainer learns from.
///
/// `{"run_id", "agent", "task", "finish", "answer", "reward", "messages": [{"role", "content"}],
///   "tools": [{"name", "description", "parameters"}],
///   "steps": [{"index", "tool_calls": [{"name", "arguments"}], "results", "prompt_tokens", "completion_tokens"}]}`
///
/// `tools` lets the trainer rebuild the system prompt the model actually saw (the tool
/// block is added at request time, not kept in `messages`).
public struct Trajectory: Codable, Sendable, Equatable {
    public struct Step: Codable, Sendable, Equatable {
        public var index: Int
        public var toolCalls: [ToolCall]
        public var results: [String]
        public var promptTokens: Int
        public var completionTokens: Int

        enum CodingKeys: String, CodingKey {
            case index, results
            case toolCalls = "tool_calls"
            case promptTokens = "prompt_tokens"
            case completionTokens = "completion_tokens"
        }
    }
    public var runID: String
    public var agent: String
    public var task: String
    public var finish: String
    public var answer: String?
    /// The task's verified reward when one is known (1 solved, 0 not).
    public var reward: Double?
    public var messages: [ChatMessage]
    public var tools: [ToolDescription]
    public var steps: [Step]

    enum CodingKeys: String, CodingKey {
        case agent, task, finish, answer, reward, messages, tools, steps
        case runID = "run_id"
    }

    public init(run: AgentRun, agent: String, task: String, reward: Double?) {
        runID = run.id
        self.agent = agent
        self.task = task
        finish = run.finish.rawValue
        answer = run.answer
        self.reward = reward
        messages = run.messages
        tools = run.tools
        steps = run.steps.map {
            Step(
                index: $0.index, toolCalls: $0.toolCalls, results: $0.results,
                promptTokens: $0.promptTokens, completionTokens: $0.completionTokens)
        }
    }

    /// The line, without its newline.
    public func jsonLine() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    /// Appends the line to a JSONL file, creating it if needed.
    public func append(to path: String) throws {
        let line = Data((try jsonLine() + "\n").utf8)
        if !FileManager.default.fileExists(atPath: path) { FileManager.default.createFile(atPath: path, contents: nil) }
        guard let handle = FileHandle(forWritingAtPath: path) else { throw AgentError.cannotWrite(path: path) }
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: line)
    }
}
