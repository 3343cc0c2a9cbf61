import ColonyJinja
import ColonyModels
import Foundation

/// A tool a chat model may call: its name, description and parameters, both as the JSON
/// Schema text the prompt shows and as the schema constrained decoding enforces.
public struct ChatTool: Sendable, Equatable {
    public var name: String
    public var description: String
    /// The parameters' JSON Schema as text (compact, sorted keys): what the tool prompt shows.
    public var parametersJSON: String
    /// The same schema, parsed: what a forced call's arguments must match.
    public var parameters: JSONSchema

    public init(name: String, description: String, parametersJSON: String, parameters: JSONSchema) {
        self.name = name
        self.description = description
        self.parametersJSON = parametersJSON
        self.parameters = parameters
    }

    /// A tool whose parameters are given as JSON; `path` names them in errors.
    public init(name: String, description: String, parameters: JSONValue, path: String) throws(JSONSchema.Unsupported) {
        self.init(
            name: name, description: description, parametersJSON: parameters.encoded(),
            parameters: try JSONSchema(json: parameters, path: path))
    }
}

/// Whether and which tool the reply must call.
public enum ChatToolChoice: Sendable, Equatable {
    /// The model may answer in text or call a tool; a reply that parses as a call is one.
    case auto
    /// The reply is a call of one of the tools (constrained).
    case required
    /// The reply is a call of this tool (constrained).
    case named(String)
}

/// A call of a tool, parsed from a model's reply.
public struct ChatToolCall: Sendable, Equatable {
    public var name: String
    /// The arguments as compact JSON object text with sorted keys.
    public var arguments: String

    public init(name: String, arguments: String) {
        self.name = name
        self.arguments = arguments
    }
}

/// Why a chat request's tools or format were refused.
public enum ChatCompletionError: Error, Equatable, CustomStringConvertible {
    /// `tool_choice` names a tool that is not among the tools.
    case unknownToolChoice(String)
    /// A schema for the reply and a forced tool call both constrain the same output.
    case schemaWithForcedToolCall

    public var description: String {
        switch self {
        case .unknownToolChoice(let name): "tool_choice names '\(name)', which is not in tools"
        case .schemaWithForcedToolCall: "response_format json_schema and a required tool call cannot be combined"
        }
    }
}

/// The chat-completion layer every front door shares (the HTTP server and the in-process
/// agent client): the conversation, the tools and their prompt, the decoding constraint a
/// forced call or a schema needs, and reading a tool call back out of the reply.
///
/// It is a plain value: building one and parsing replies need no model. `ChatModel` runs it
/// on a backend.
public struct ChatCompletion: Sendable, Equatable {
    public var messages: [ChatMessage]
    /// Tools the model is told about (empty: none, as with `tool_choice: "none"`).
    public var tools: [ChatTool]
    public var toolChoice: ChatToolChoice
    /// A JSON Schema the reply must match (`response_format: json_schema`), or nil.
    public var schema: JSONSchema?
    /// How the model writes tool calls when it chooses to (`tool_choice: auto`).
    public var toolFormat = ToolCallFormat.json
    /// Further variables for the chat template (a request's `chat_template_kwargs`, such as
    /// `enable_thinking`).
    public var templateArguments: [String: JSONValue] = [:]

    /// Validates the combination: a named choice must be one of `tools`, and a schema cannot be
    /// combined with a forced call.
    public init(
        messages: [ChatMessage], tools: [ChatTool] = [], toolChoice: ChatToolChoice = .auto,
        schema: JSONSchema? = nil
    ) throws(ChatCompletionError) {
        if case .named(let name) = toolChoice, !tools.contains(where: { $0.name == name }) {
            throw .unknownToolChoice(name)
        }
        if schema != nil, !tools.isEmpty, toolChoice != .auto { throw .schemaWithForcedToolCall }
        self.messages = messages
        self.tools = tools
        self.toolChoice = toolChoice
        self.schema = schema
    }

    /// For a template without tool syntax: `messages` with the tools described in the system
    /// prompt (see `ToolPrompt`) and each assistant's calls written as JSON in its content.
    public var promptMessages: [ChatMessage] {
        let flat = messages.map { m in
            guard let calls = m.toolCalls, m.content.isEmpty else { return m }
            return ChatMessage(
                role: m.role, content: calls.map { #"{"name":"\#($0.name)","arguments":\#($0.arguments)}"# }.joined(separator: "\n"))
        }
        return ToolPrompt.apply(tools.map { ($0.name, $0.description, $0.parametersJSON) }, to: flat)
    }

    /// The decoding constraint: a forced tool call, the schema, or nothing.
    public var constraint: OutputConstraint? {
        switch toolChoice {
        case .required where !tools.isEmpty:
            return .jsonSchema(.toolCall(tools.map { .init(name: $0.name, parameters: $0.parameters) }))
        case .named(let name):
            return .jsonSchema(.toolCall(tools.filter { $0.name == name }.map { .init(name: $0.name, parameters: $0.parameters) }))
        default:
            return schema.map { .jsonSchema($0) }
        }
    }

    /// Whether decoding is constrained to a tool call, so that a reply that is not one was cut off.
    public var forcesToolCall: Bool {
        switch toolChoice {
        case .auto: false
        case .required: !tools.isEmpty
        case .named: true
        }
    }

    /// The tool call in `text`, if it is one: `{"name": <one of the tools>, "arguments": {...}}`.
    public func toolCall(in text: String) -> ChatToolCall? { reply(parsing: text).calls.first }

    /// `text` read in `toolFormat`: its reasoning, its text and the calls of the offered tools.
    public func reply(parsing text: String) -> ToolCallFormat.Reply {
        guard !tools.isEmpty else {
            let (reasoning, rest) = ToolCallFormat.splitReasoning(text)
            return ToolCallFormat.Reply(content: reasoning == nil ? text : rest.trimmingWhitespace(), reasoning: reasoning)
        }
        return toolFormat.parse(text, tools: Set(tools.map(\.name)))
    }
}

extension ChatTool {
    /// The tool as chat templates read it: OpenAI's `{"type": "function", "function": {...}}`.
    public var jinja: JinjaValue {
        let parameters = (try? JinjaJSON.parse(parametersJSON)) ?? .object(JinjaObject())
        let function = JinjaObject([("name", .string(name)), ("description", .string(description)), ("parameters", parameters)])
        return .object(JinjaObject([("type", .string("function")), ("function", .object(function))]))
    }
}

extension JSONValue {
    /// The value as a template variable.
    public var jinja: JinjaValue {
        switch self {
        case .null: .none
        case .bool(let b): .bool(b)
        case .int(let i): .int(i)
        case .double(let d): .double(d)
        case .string(let s): .string(s)
        case .array(let a): .array(a.map(\.jinja))
        case .object(let o): .object(JinjaObject(o.sorted { $0.key < $1.key }.map { ($0.key, $0.value.jinja) }))
        }
    }
}
