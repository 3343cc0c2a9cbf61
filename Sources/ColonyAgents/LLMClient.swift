import ColonyEngine
import ColonyModels
import Foundation

/// A call of a tool, as the model asked for it.
public struct ToolCall: Sendable, Equatable, Codable {
    public var name: String
    /// The arguments as a JSON object text.
    public var arguments: String
    public init(name: String, arguments: String) {
        self.name = name
        self.arguments = arguments
    }
}

/// What an agent asks of a model: the conversation and, optionally, tools one of which
/// the reply must call.
public struct LLMRequest: Sendable {
    public var messages: [ChatMessage]
    public var tools: [any Tool]
    public var maxTokens: Int
    public var sampling: SamplingParameters
    /// Larger is more urgent: an engine under the priority policy, and a cluster router
    /// placing by score, take more urgent calls first.
    public var priority: Int

    public init(
        messages: [ChatMessage], tools: [any Tool] = [], maxTokens: Int = 256, sampling: SamplingParameters = .greedy, priority: Int = 0
    ) {
        self.messages = messages
        self.tools = tools
        self.maxTokens = maxTokens
        self.sampling = sampling
        self.priority = priority
    }
}

/// A model's reply: text, or the tool calls it chose.
public struct LLMReply: Sendable, Equatable {
    public var text: String
    public var toolCalls: [ToolCall]
    public var promptTokens: Int
    public var completionTokens: Int
    /// True when a required tool call was cut off (by max tokens) before it was complete.
    public var truncatedCall: Bool
    /// The server's id of this response (what its `/v1/feedback` takes), when it has one.
    public var responseID: String? = nil
    /// The model that answered, as the server names it (a Colony server: `NAME@ID`).
    public var servedBy: String? = nil

    public init(
        text: String = "", toolCalls: [ToolCall] = [], promptTokens: Int = 0, completionTokens: Int = 0, truncatedCall: Bool = false
    ) {
        self.text = text
        self.toolCalls = toolCalls
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.truncatedCall = truncatedCall
    }
}

/// Where an agent's thinking happens. Agents never know which implementation they have:
/// the in-process engine (`EngineClient`) or, later, any OpenAI-compatible endpoint.
///
/// Contract: with tools in the request, the reply holds at least one call of one of them
/// or plain text; it never throws for what the model said, only for transport failures.
public protocol LLMClient: Sendable {
    func complete(_ request: LLMRequest) async throws -> LLMReply
}

/// An in-process backend (the engine, or a router) as an `LLMClient`: no HTTP hop. With tools, decoding is
/// constrained to one well-formed call, so even a small model's calls always parse.
public struct EngineClient: LLMClient {
    public let engine: any InferenceBackend
    public let template: ChatTemplate
    /// The LoRA adapter every request runs with (nil: the base model).
    public var adapter: LoRAWeights?

    public init(engine: any InferenceBackend, template: ChatTemplate, adapter: LoRAWeights? = nil) {
        self.engine = engine
        self.template = template
        self.adapter = adapter
    }

    public func complete(_ request: LLMRequest) async throws -> LLMReply {
        // Every tool is offered and one must be called: decoding is constrained to a call.
        let tools = try request.tools.map {
            ChatTool(name: $0.name, description: $0.description, parametersJSON: $0.parametersJSON, parameters: try $0.parameterSchema())
        }
        let chat = try ChatCompletion(messages: request.messages, tools: tools, toolChoice: .required)
        let reply = try await ChatModel(backend: engine, template: template)
            .complete(chat, sampling: request.sampling, maxTokens: request.maxTokens, priority: request.priority, adapter: adapter)
        return LLMReply(
            text: reply.text, toolCalls: reply.toolCall.map { [ToolCall(name: $0.name, arguments: $0.arguments)] } ?? [],
            promptTokens: reply.usage.promptTokens, completionTokens: reply.usage.completionTokens,
            truncatedCall: chat.forcesToolCall && reply.toolCall == nil)
    }
}

/// A client whose server takes outcomes of the responses it gave (a Colony server's
/// `/v1/feedback`), so that the version that answered is credited: what an A/B split's gate
/// weighs. Agents report each verified task once, for the response that gave the answer.
public protocol OutcomeReporting: Sendable {
    func report(response id: String, reward: Double, success: Bool) async throws
}
