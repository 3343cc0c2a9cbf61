import ColonyEngine
import Foundation

/// The body of `POST /v1/chat/completions`.
///
/// Decoding checks the shapes OpenAI's API allows and throws `OpenAIRequestError` (with the
/// field) for tools and tool choices it cannot read; `DecodingError` for everything else.
public struct ChatCompletionRequest: Codable, Sendable, Equatable {
    public var options: CompletionOptions
    public var messages: [Message]
    public var tools: [ToolDefinition]?
    public var toolChoice: ToolChoice?
    /// Further variables for the model's chat template (`enable_thinking`, …).
    public var chatTemplateKwargs: [String: JSONValue]?

    enum CodingKeys: String, CodingKey {
        case messages, tools
        case toolChoice = "tool_choice"
        case chatTemplateKwargs = "chat_template_kwargs"
    }

    public init(options: CompletionOptions, messages: [Message], tools: [ToolDefinition]? = nil, toolChoice: ToolChoice? = nil) {
        self.options = options
        self.messages = messages
        self.tools = tools
        self.toolChoice = toolChoice
    }

    public init(from decoder: Decoder) throws {
        // The shared fields first, as the server always read them first.
        options = try CompletionOptions(from: decoder)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        messages = try c.decode([Message].self, forKey: .messages)
        tools = c.contains(.tools) ? try ToolDefinition.list(from: try c.decode(JSONValue.self, forKey: .tools)) : nil
        toolChoice = c.contains(.toolChoice) ? try ToolChoice(json: try c.decode(JSONValue.self, forKey: .toolChoice)) : nil
        if c.contains(.chatTemplateKwargs) {
            guard case .object(let kwargs) = try c.decode(JSONValue.self, forKey: .chatTemplateKwargs) else {
                throw OpenAIRequestError("chat_template_kwargs must be an object of template variables", param: "chat_template_kwargs")
            }
            chatTemplateKwargs = kwargs
        }
    }

    public func encode(to encoder: Encoder) throws {
        try options.encode(to: encoder)
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(messages, forKey: .messages)
        try c.encodeIfPresent(tools, forKey: .tools)
        try c.encodeIfPresent(toolChoice, forKey: .toolChoice)
        try c.encodeIfPresent(chatTemplateKwargs, forKey: .chatTemplateKwargs)
    }

    /// One message: a role, its content, and the calls an assistant made.
    public struct Message: Codable, Sendable, Equatable {
        public var role: String
        public var content: MessageContent?
        public var toolCalls: [ToolCall]?
        /// Which call a `tool` message answers.
        public var toolCallID: String?

        enum CodingKeys: String, CodingKey {
            case role, content
            case toolCalls = "tool_calls"
            case toolCallID = "tool_call_id"
        }

        public init(role: String, content: String?, toolCalls: [ToolCall]? = nil, toolCallID: String? = nil) {
            self.role = role
            self.content = content.map(MessageContent.init)
            self.toolCalls = toolCalls
            self.toolCallID = toolCallID
        }
    }
}

/// Message `content`: a string, or a list of parts of which the text parts are joined
/// (null reads as empty). Encoded as a string.
public struct MessageContent: Codable, Sendable, Equatable {
    public var text: String

    public init(_ text: String) { self.text = text }

    private struct Part: Decodable {
        let type: String
        let text: String?
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let s = try? c.decode(String.self) {
            text = s
            return
        }
        if c.decodeNil() {
            text = ""
            return
        }
        let parts = try c.decode([Part].self)
        if let bad = parts.first(where: { $0.type != "text" }) {
            throw DecodingError.dataCorruptedError(
                in: c, debugDescription: "content part type '\(bad.type)' is not supported; only 'text'")
        }
        text = parts.compactMap(\.text).joined()
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(text)
    }
}

/// One entry of `tools`: a function with a name, a description and its parameters' JSON Schema.
public struct ToolDefinition: Codable, Sendable, Equatable {
    public var type: String
    public var function: Function

    public struct Function: Codable, Sendable, Equatable {
        public var name: String
        public var description: String?
        /// JSON Schema of the arguments (free-form JSON).
        public var parameters: JSONValue?
        public init(name: String, description: String?, parameters: JSONValue?) {
            self.name = name
            self.description = description
            self.parameters = parameters
        }
    }

    public init(function: Function) {
        type = "function"
        self.function = function
    }

    /// Reads `tools` leniently (extra fields ignored, a non-string description as none) and
    /// names the first entry that is not a function with a name.
    static func list(from json: JSONValue) throws(OpenAIRequestError) -> [ToolDefinition] {
        guard case .array(let items) = json, items.allSatisfy({ $0.objectValue != nil }) else {
            throw OpenAIRequestError("tools must be a list of objects", param: "tools")
        }
        return try items.enumerated().map { (i, item) throws(OpenAIRequestError) in
            let tool = item.objectValue ?? [:]
            guard tool["type"]?.stringValue == "function", let function = tool["function"]?.objectValue,
                let name = function["name"]?.stringValue, !name.isEmpty
            else {
                throw OpenAIRequestError(#"tools[\#(i)] must be {"type": "function", "function": {"name": ...}}"#, param: "tools")
            }
            return ToolDefinition(
                function: .init(
                    name: name, description: function["description"]?.stringValue,
                    parameters: function["parameters"]))
        }
    }
}

/// `tool_choice`: `none`, `auto`, `required`, or one function by name.
public enum ToolChoice: Codable, Sendable, Equatable {
    case none
    case auto
    case required
    case function(String)

    init(json: JSONValue) throws(OpenAIRequestError) {
        switch json {
        case .string("none"): self = .none
        case .string("auto"): self = .auto
        case .string("required"): self = .required
        case .string(let other):
            throw OpenAIRequestError("tool_choice must be none, auto, required or a function, got '\(other)'", param: "tool_choice")
        case .object(let o):
            guard let name = o["function"]?.objectValue?["name"]?.stringValue else {
                throw OpenAIRequestError(
                    #"tool_choice must name a function: {"type": "function", "function": {"name": ...}}"#,
                    param: "tool_choice")
            }
            self = .function(name)
        default:
            throw OpenAIRequestError("tool_choice must be a string or an object", param: "tool_choice")
        }
    }

    public init(from decoder: Decoder) throws {
        self = try ToolChoice(json: try JSONValue(from: decoder))
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .none: try c.encode("none")
        case .auto: try c.encode("auto")
        case .required: try c.encode("required")
        case .function(let name):
            try c.encode(JSONValue.object(["type": .string("function"), "function": .object(["name": .string(name)])]))
        }
    }
}
