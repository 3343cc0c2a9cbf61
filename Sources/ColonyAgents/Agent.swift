import ColonyModels
import ColonyStore
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
    /// The priority of the agent's model calls (`LLMRequest.priority`): larger is more urgent.
    public var priority = 0
    /// Seconds a tool call may run before it counts as failed.
    public var toolTimeout: Double = 10
    /// Short-term memory: the conversation sent to the model is kept under this many
    /// tokens (estimated as bytes / 4) by dropping the oldest steps' messages; the
    /// instructions and the task always stay.
    public var contextTokens = 1536
    /// Long-term memory: the `recall` most relevant memories of this namespace are put
    /// into the prompt at the start of a run (0 turns it off).
    public var memory: (store: any MemoryStore, namespace: String)?
    public var recall = 0

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
    /// Wall time of the step: the model call and the tools (0 for steps read back from a store).
    public var seconds: Double = 0
}

/// A finished run: the answer, every step and the whole conversation (the trajectory).
public struct AgentRun: Sendable {
    public var id: String
    public var answer: String?
    public var finish: AgentFinish
    public var steps: [AgentStep]
    public var messages: [ChatMessage]
    /// The tools the model was offered (`final_answer` included), as it saw them.
    public var tools: [ToolDescription] = []
    /// The server's id of the last model response (the one that answered), for feedback.
    public var lastResponseID: String? = nil
    /// The model that gave that response, as the server names it.
    public var servedBy: String? = nil
}

/// A tool as described to the model: what a trajectory needs to reproduce the prompt.
public struct ToolDescription: Sendable, Codable, Equatable {
    public var name: String
    public var description: String
    /// JSON Schema text, exactly as the prompt showed it.
    public var parameters: String

    public init(_ tool: any Tool) {
        name = tool.name
        description = tool.description
        parameters = tool.parametersJSON
    }
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

    /// Runs `task` from the start. With a store, the run, each step's tool calls (before
    /// they run) and each completed step are written durably, so `resume` can continue it.
    public func run(
        task: String, id: String = UUID().uuidString, store: (any RunStore)? = nil, specText: String? = nil
    ) async throws -> AgentRun {
        try await store?.createRun(RunRecord(id: id, agent: spec.name, task: task, spec: specText))
        return try await loop(id: id, task: task, done: [], store: store)
    }

    /// Continues a stored run after a crash: completed steps are replayed into the
    /// conversation, not repeated; tool calls whose outcome is unknown are run again only
    /// when their tool is idempotent, otherwise reported to the model as unknown.
    public func resume(id: String, store: any RunStore) async throws -> AgentRun {
        guard let record = try await store.run(id: id) else { throw AgentError.noRun(id: id) }
        guard record.status == "running" else { throw AgentError.runEnded(id: id, status: record.status) }
        var done = try await store.steps(runID: id).map(Self.decode)
        let pending = try await store.pendingCalls(runID: id).filter { $0.step == done.count }
        if !pending.isEmpty {
            let tools = spec.tools + [FinalAnswerTool()]
            let calls = pending.map { ToolCall(name: $0.name, arguments: $0.arguments) }
            var results: [String] = []
            for call in calls {
                if let tool = tools.first(where: { $0.name == call.name }), !tool.isIdempotent {
                    results.append(
                        "error: the outcome of this call is unknown (the run stopped while it ran); \(call.name) is not idempotent, so it was not repeated"
                    )
                } else {
                    results += await act([call], tools: tools)
                }
            }
            let step = AgentStep(index: done.count, toolCalls: calls, results: results, promptTokens: 0, completionTokens: 0)
            try await store.completeStep(runID: id, Self.encode(step))
            done.append(step)
        }
        return try await loop(id: id, task: record.task, done: done, store: store)
    }

    private func loop(id: String, task: String, done: [AgentStep], store: (any RunStore)?) async throws -> AgentRun {
        let finalAnswer = FinalAnswerTool()
        let tools: [any Tool] = spec.tools + [finalAnswer]
        var system = spec.instructions
        if spec.recall > 0, let memory = spec.memory {
            let hits = try await memory.store.searchMemory(namespace: memory.namespace, query: task, limit: spec.recall)
            if !hits.isEmpty { system += "\n\nRelevant memories:\n" + hits.map { "- " + $0.text }.joined(separator: "\n") }
        }
        var messages = [ChatMessage(role: "system", content: system), ChatMessage(role: "user", content: task)]
        for step in done { Self.append(step, to: &messages) }
        var steps = done
        var spent = done.reduce(0) { $0 + $1.promptTokens + $1.completionTokens }
        var (lastResponse, servedBy): (String?, String?)
        func end(_ finish: AgentFinish, _ answer: String?) async throws -> AgentRun {
            try await store?.finishRun(id: id, status: finish.rawValue, answer: answer)
            return AgentRun(
                id: id, answer: answer, finish: finish, steps: steps, messages: messages, tools: tools.map(ToolDescription.init),
                lastResponseID: lastResponse, servedBy: servedBy)
        }
        for index in done.count..<max(spec.maxSteps, done.count) {
            try Task.checkCancellation()
            let stepStart = Date()
            let reply = try await client.complete(
                LLMRequest(
                    messages: Self.fit(messages, tokens: spec.contextTokens),
                    tools: tools, maxTokens: spec.maxTokensPerStep, sampling: spec.sampling, priority: spec.priority))
            spent += reply.promptTokens + reply.completionTokens
            lastResponse = reply.responseID ?? lastResponse
            servedBy = reply.servedBy ?? servedBy
            if reply.truncatedCall {  // cut off mid-call: say so and let the model try again
                let step = AgentStep(
                    index: index, toolCalls: [],
                    results: ["error: your reply ended before the tool call was complete; keep arguments short"],
                    promptTokens: reply.promptTokens, completionTokens: reply.completionTokens)
                try await store?.completeStep(runID: id, Self.encode(step))
                steps.append(step)
                messages.append(ChatMessage(role: "assistant", content: reply.text))
                messages.append(ChatMessage(role: "tool", content: step.results[0]))
                if spent >= spec.tokenBudget { return try await end(.budget, nil) }
                continue
            }
            if reply.toolCalls.isEmpty {  // a model that answered in plain text
                messages.append(ChatMessage(role: "assistant", content: reply.text))
                steps.append(
                    AgentStep(
                        index: index, toolCalls: [], results: [], promptTokens: reply.promptTokens, completionTokens: reply.completionTokens
                    ))
                try await store?.completeStep(runID: id, Self.encode(steps[index]))
                return try await end(.answered, reply.text)
            }
            try await store?.recordPendingCalls(
                runID: id,
                reply.toolCalls.enumerated().map {
                    PendingCall(step: index, position: $0.offset, name: $0.element.name, arguments: $0.element.arguments)
                })
            let answerCall = reply.toolCalls.first { $0.name == finalAnswer.name }
            let results: [String]
            if let answerCall {
                results = [(try? await finalAnswer.call(arguments: answerCall.arguments)) ?? answerCall.arguments]
            } else {
                results = await act(reply.toolCalls, tools: tools)
            }
            let step = AgentStep(
                index: index, toolCalls: answerCall.map { [$0] } ?? reply.toolCalls, results: results,
                promptTokens: reply.promptTokens, completionTokens: reply.completionTokens,
                seconds: Date().timeIntervalSince(stepStart))
            try await store?.completeStep(runID: id, Self.encode(step))
            steps.append(step)
            Self.append(step, to: &messages)
            if answerCall != nil { return try await end(.answered, results[0]) }
            if spent >= spec.tokenBudget { return try await end(.budget, nil) }
        }
        return try await end(.maxSteps, nil)
    }

    /// The messages a step adds: the assistant's calls, then one tool message per result
    /// (a final answer has no tool message).
    private static func append(_ step: AgentStep, to messages: inout [ChatMessage]) {
        guard !step.toolCalls.isEmpty else { return }
        messages.append(ChatMessage(role: "assistant", content: step.toolCalls.map(render).joined(separator: "\n")))
        guard step.toolCalls.first?.name != "final_answer" else { return }
        for (call, result) in zip(step.toolCalls, step.results) {
            messages.append(ChatMessage(role: "tool", content: Self.toolMessage(call.name, result)))
        }
    }

    /// The short-term memory policy: the first two messages (instructions, task) always
    /// stay; the oldest of the rest are dropped until the estimate (bytes / 4) fits, and a
    /// note says how many were dropped.
    static func fit(_ messages: [ChatMessage], tokens: Int) -> [ChatMessage] {
        func cost(_ m: ChatMessage) -> Int { (m.content.utf8.count + m.role.utf8.count) / 4 + 4 }
        let head = Array(messages.prefix(2))
        var tail = Array(messages.dropFirst(2))
        var dropped = 0
        while !tail.isEmpty, (head + tail).map(cost).reduce(0, +) > tokens {
            tail.removeFirst()
            dropped += 1
        }
        guard dropped > 0 else { return messages }
        return head + [ChatMessage(role: "system", content: "(\(dropped) earlier messages were dropped to fit the context)")] + tail
    }

    /// How a result is shown to the model. Small models repeat a successful call unless
    /// the message points at the next move, so it does.
    static func toolMessage(_ name: String, _ result: String) -> String {
        result.hasPrefix("error:")
            ? "\(name) failed: \(result)" : "\(name) returned: \(result). If this solves the task, call final_answer with it."
    }

    static func encode(_ step: AgentStep) throws -> StepRecord {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return StepRecord(
            index: step.index, callsJSON: String(decoding: try encoder.encode(step.toolCalls), as: UTF8.self),
            resultsJSON: String(decoding: try encoder.encode(step.results), as: UTF8.self),
            promptTokens: step.promptTokens, completionTokens: step.completionTokens)
    }

    static func decode(_ record: StepRecord) throws -> AgentStep {
        AgentStep(
            index: record.index, toolCalls: try JSONDecoder().decode([ToolCall].self, from: Data(record.callsJSON.utf8)),
            results: try JSONDecoder().decode([String].self, from: Data(record.resultsJSON.utf8)),
            promptTokens: record.promptTokens, completionTokens: record.completionTokens)
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
        await firstResult(within: timeout) {
            do { return try await tool.call(arguments: arguments) } catch { return "error: \(error)" }
        } ?? "error: \(tool.name) timed out after \(timeout) s"
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
