import ColonyJinja

/// One message of a conversation, with what tool use adds: the calls an assistant made, and
/// which call a tool message answers.
public struct ChatMessage: Sendable, Codable, Equatable {
    public var role: String
    public var content: String
    /// The calls an assistant message made.
    public var toolCalls: [ToolCall]?
    /// Which call a `tool` message answers.
    public var toolCallID: String?
    /// The reasoning an assistant message gave before its answer (`reasoning_content`).
    public var reasoning: String?

    /// A call as the conversation records it: the tool, its arguments as JSON text, an id.
    public struct ToolCall: Sendable, Codable, Equatable {
        public var id: String?
        public var name: String
        public var arguments: String

        public init(id: String? = nil, name: String, arguments: String) {
            self.id = id
            self.name = name
            self.arguments = arguments
        }
    }

    public init(role: String, content: String, toolCalls: [ToolCall]? = nil, toolCallID: String? = nil, reasoning: String? = nil) {
        self.role = role
        self.content = content
        self.toolCalls = toolCalls
        self.toolCallID = toolCallID
        self.reasoning = reasoning
    }

    /// Roles every template accepts.
    public static let roles = ["system", "user", "assistant", "tool"]

    /// The message as templates read it (OpenAI's shape, as Hugging Face passes it): an
    /// assistant's calls under `tool_calls` with their arguments as an object, as templates
    /// expect them (a string that is not JSON stays a string).
    var jinja: JinjaValue {
        var o = JinjaObject([("role", .string(role)), ("content", toolCalls != nil && content.isEmpty ? .none : .string(content))])
        if let reasoning { o["reasoning_content"] = .string(reasoning) }
        if let toolCalls {
            o["tool_calls"] = .array(
                toolCalls.map { call in
                    var c = JinjaObject()
                    if let id = call.id { c["id"] = .string(id) }
                    c["type"] = .string("function")
                    c["function"] = .object(
                        JinjaObject([
                            ("name", .string(call.name)), ("arguments", (try? JinjaJSON.parse(call.arguments)) ?? .string(call.arguments)),
                        ]))
                    return .object(c)
                })
        }
        if let toolCallID { o["tool_call_id"] = .string(toolCallID) }
        return .object(o)
    }
}
