import Foundation

/// A call of a function: in an assistant message of a request, and in a reply's message or
/// stream delta.
public struct ToolCall: Codable, Sendable, Equatable {
    /// Position among the calls of one reply (streamed deltas need it).
    public var index: Int?
    public var id: String?
    public var type: String?
    public var function: FunctionCall

    public struct FunctionCall: Codable, Sendable, Equatable {
        public var name: String
        /// The arguments as JSON object text (OpenAI sends text, not an object).
        public var arguments: String
        public init(name: String, arguments: String) {
            self.name = name
            self.arguments = arguments
        }
    }

    public init(index: Int? = nil, id: String? = nil, type: String? = nil, function: FunctionCall) {
        self.index = index
        self.id = id
        self.type = type
        self.function = function
    }

    /// A call as a server reports it, `index`th of its reply, with a fresh `call_…` id.
    public static func reply(name: String, arguments: String, index: Int = 0) -> ToolCall {
        let id = "call_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(24).lowercased()
        return ToolCall(index: index, id: id, type: "function", function: .init(name: name, arguments: arguments))
    }
}
