import ColonyModels
import Foundation

/// What an agent is: its instructions, tools and limits.
public struct AgentSpec: Sendable {
    public var name: String
    public var instructions: String
    public var tools: [any Tool]
    public var maxSteps = 8
    public var maxTokensPerStep = 256
    /// Prompt and completion tokens a run may spend in total.
    public var tokenBudget = 32_768
    public var sampling = SamplingParameters.greedy
    /// Seconds a tool call may run before it counts as failed.
    public var toolTimeout: Double = 10

    public init(name: String, instructions: String, tools: [any Tool] = []) {
        self.name = name
        self.instructions = instructions
        self.tools = tools
    }
}

/// How a run ended.
public enum AgentFinish: String, Sendable, Codable {
    case answered
    case maxSteps = "max_steps"
    case budget
}

/// One reason → act round: what the model asked for and what the tools answered.
public struct AgentStep: Sendable, Equatable, Codable {
    public var index: Int
    public var toolCalls: [ToolCall]
    /// One result per call, in order; failures read "error: …".
    public var results: [String]
    public var promptTokens: Int
    public var completionTokens: Int
}

/// A finished run: the answer, every step and the whole conversation (the trajectory).
public struct AgentRun: Sendable {
    public var answer: String?
    public var finish: AgentFinish
    public var steps: [AgentStep]
    public var messages: [ChatMessage]
}

/// Runs the agent loop: perceive (the conversation so far and tool results) → reason (one
/// model call that must call a tool, `final_answer` included) → act (the calls, in
/// parallel, each with a timeout) → record the step, until an answer, `maxSteps` or the
/// token budget. A bad argument or a failing tool becomes an error message the model
/// sees next step, never a crash.
public struct Agent: Sendable {
    public let spec: AgentSpec
    public let client: any LLMClient

    public init(spec: AgentSpec, client: any LLMClient) {
        self.spec = spec
        self.client = client
    }

    public func run(task: String) async throws -> AgentRun {
        let finalAnswer = FinalAnswerTool()
        let tools: [any Tool] = spec.tools + [finalAnswer]
        var messages = [ChatMessage(role: "system", content: spec.instructions), ChatMessage(role: "user", content: task)]
        var steps: [AgentStep] = []
        var spent = 0
        for index in 0..<spec.maxSteps {
            try Task.checkCancellation()
            let reply = try await client.complete(LLMRequest(messages: messages, tools: tools, maxTokens: spec.maxTokensPerStep, sampling: spec.sampling))
            spent += reply.promptTokens + reply.completionTokens
            if reply.toolCalls.isEmpty { // a model that answered in plain text
                messages.append(ChatMessage(role: "assistant", content: reply.text))
                steps.append(AgentStep(index: index, toolCalls: [], results: [], promptTokens: reply.promptTokens, completionTokens: reply.completionTokens))
                return AgentRun(answer: reply.text, finish: .answered, steps: steps, messages: messages)
            }
            messages.append(ChatMessage(role: "assistant", content: reply.toolCalls.map(Self.render).joined(separator: "\n")))
            if let call = reply.toolCalls.first(where: { $0.name == finalAnswer.name }) {
                let answer = (try? await finalAnswer.call(arguments: call.arguments)) ?? call.arguments
                steps.append(AgentStep(index: index, toolCalls: [call], results: [answer], promptTokens: reply.promptTokens, completionTokens: reply.completionTokens))
                return AgentRun(answer: answer, finish: .answered, steps: steps, messages: messages)
            }
            let results = await act(reply.toolCalls, tools: tools)
            for (call, result) in zip(reply.toolCalls, results) {
                messages.append(ChatMessage(role: "tool", content: "\(call.name) → \(result)"))
            }
            steps.append(AgentStep(index: index, toolCalls: reply.toolCalls, results: results, promptTokens: reply.promptTokens, completionTokens: reply.completionTokens))
            if spent >= spec.tokenBudget { return AgentRun(answer: nil, finish: .budget, steps: steps, messages: messages) }
        }
        return AgentRun(answer: nil, finish: .maxSteps, steps: steps, messages: messages)
    }

    /// Runs the calls concurrently; each result is the tool's output or "error: …".
    private func act(_ calls: [ToolCall], tools: [any Tool]) async -> [String] {
        let timeout = spec.toolTimeout
        return await withTaskGroup(of: (Int, String).self) { group in
            for (i, call) in calls.enumerated() {
                let tool = tools.first { $0.name == call.name }
                group.addTask {
                    guard let tool else {
                        return (i, "error: there is no tool '\(call.name)'; tools: \(tools.map(\.name).joined(separator: ", "))")
                    }
                    return (i, await Self.run(tool, call.arguments, timeout: timeout))
                }
            }
            var results = [String](repeating: "", count: calls.count)
            for await (i, r) in group { results[i] = r }
            return results
        }
    }

    private static func run(_ tool: any Tool, _ arguments: String, timeout: Double) async -> String {
        await withTaskGroup(of: String?.self) { group in
            group.addTask {
                do { return try await tool.call(arguments: arguments) } catch { return "error: \(error)" }
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(timeout))
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first ?? "error: \(tool.name) timed out after \(timeout) s"
        }
    }

    static func render(_ call: ToolCall) -> String { #"{"name":"\#(call.name)","arguments":\#(call.arguments)}"# }
}

/// The tool every agent has: calling it ends the run with its answer.
struct FinalAnswerTool: Tool {
    let name = "final_answer"
    let description = "Give the final answer to the task."
    let parametersJSON = #"{"type":"object","properties":{"answer":{"type":"string"}}}"#
    let isIdempotent = true

    func call(arguments: String) async throws -> String {
        struct Arguments: Decodable { let answer: String }
        return try decodeArguments(Arguments.self, arguments, tool: name).answer
    }
}
