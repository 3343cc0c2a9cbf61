import Foundation

/// `usage`: token counts of a finished request.
public struct UsageBody: Codable, Sendable, Equatable {
    public var promptTokens: Int
    public var completionTokens: Int
    public var totalTokens: Int
    public var promptTokensDetails: Details?

    public struct Details: Codable, Sendable, Equatable {
        /// Prompt tokens served from the prefix cache.
        public var cachedTokens: Int
        enum CodingKeys: String, CodingKey { case cachedTokens = "cached_tokens" }
        public init(cachedTokens: Int) { self.cachedTokens = cachedTokens }
    }

    enum CodingKeys: String, CodingKey {
        case promptTokens = "prompt_tokens"
        case completionTokens = "completion_tokens"
        case totalTokens = "total_tokens"
        case promptTokensDetails = "prompt_tokens_details"
    }

    public init(promptTokens: Int, completionTokens: Int, cachedTokens: Int) {
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        totalTokens = promptTokens + completionTokens
        promptTokensDetails = Details(cachedTokens: cachedTokens)
    }
}

/// The reply of a chat completion that is not streamed.
public struct ChatCompletionResponse: Codable, Sendable, Equatable {
    public var id: String
    public var object = "chat.completion"
    public var created: Int
    public var model: String
    public var choices: [Choice]
    public var usage: UsageBody?

    public struct Choice: Codable, Sendable, Equatable {
        public var index: Int
        public var message: Message
        public var finishReason: String?
        enum CodingKeys: String, CodingKey {
            case index, message
            case finishReason = "finish_reason"
        }
        public init(index: Int, message: Message, finishReason: String?) {
            self.index = index
            self.message = message
            self.finishReason = finishReason
        }
    }

    /// The assistant's message: text, or the calls it made.
    public struct Message: Codable, Sendable, Equatable {
        public var role: String
        public var content: String?
        public var toolCalls: [ToolCall]?
        /// What a reasoning model thought (`<think>…</think>`), apart from its answer.
        public var reasoningContent: String?
        enum CodingKeys: String, CodingKey {
            case role, content
            case toolCalls = "tool_calls"
            case reasoningContent = "reasoning_content"
        }
        public init(role: String, content: String?, toolCalls: [ToolCall]?, reasoningContent: String? = nil) {
            self.role = role
            self.content = content
            self.toolCalls = toolCalls
            self.reasoningContent = reasoningContent
        }
    }

    public init(id: String, created: Int, model: String, choices: [Choice], usage: UsageBody?) {
        self.id = id
        self.created = created
        self.model = model
        self.choices = choices
        self.usage = usage
    }
}

/// One server-sent event of a streamed chat completion.
public struct ChatCompletionChunk: Codable, Sendable, Equatable {
    public var id: String
    public var object = "chat.completion.chunk"
    public var created: Int
    public var model: String
    public var choices: [Choice]
    /// Only in the last chunk, and only when `stream_options.include_usage` asked for it.
    public var usage: UsageBody?

    public struct Choice: Codable, Sendable, Equatable {
        public var index: Int
        public var delta: Delta
        public var finishReason: String?
        enum CodingKeys: String, CodingKey {
            case index, delta
            case finishReason = "finish_reason"
        }
        public init(index: Int, delta: Delta, finishReason: String?) {
            self.index = index
            self.delta = delta
            self.finishReason = finishReason
        }
    }

    public struct Delta: Codable, Sendable, Equatable {
        public var role: String?
        public var content: String?
        public var toolCalls: [ToolCall]?
        /// Reasoning (a `<think>` block) as it streams.
        public var reasoningContent: String?
        enum CodingKeys: String, CodingKey {
            case role, content
            case toolCalls = "tool_calls"
            case reasoningContent = "reasoning_content"
        }
        public init(role: String? = nil, content: String?, toolCalls: [ToolCall]? = nil, reasoningContent: String? = nil) {
            self.role = role
            self.content = content
            self.toolCalls = toolCalls
            self.reasoningContent = reasoningContent
        }
    }

    public init(id: String, created: Int, model: String, choices: [Choice], usage: UsageBody?) {
        self.id = id
        self.created = created
        self.model = model
        self.choices = choices
        self.usage = usage
    }
}

/// The reply of a text completion, and (with `object` the same) each streamed event of one.
public struct CompletionResponse: Codable, Sendable, Equatable {
    public var id: String
    public var object = "text_completion"
    public var created: Int
    public var model: String
    public var choices: [Choice]
    public var usage: UsageBody?

    public struct Choice: Codable, Sendable, Equatable {
        public var index: Int
        public var text: String
        public var finishReason: String?
        enum CodingKeys: String, CodingKey {
            case index, text
            case finishReason = "finish_reason"
        }
        public init(index: Int, text: String, finishReason: String?) {
            self.index = index
            self.text = text
            self.finishReason = finishReason
        }
    }

    public init(id: String, created: Int, model: String, choices: [Choice], usage: UsageBody?) {
        self.id = id
        self.created = created
        self.model = model
        self.choices = choices
        self.usage = usage
    }
}

/// `GET /v1/models`.
public struct ModelList: Codable, Sendable, Equatable {
    public var object = "list"
    public var data: [Model]

    public struct Model: Codable, Sendable, Equatable {
        public var id: String
        public var object = "model"
        public var created: Int
        public var ownedBy: String
        enum CodingKeys: String, CodingKey {
            case id, object, created
            case ownedBy = "owned_by"
        }
        public init(id: String, created: Int, ownedBy: String) {
            self.id = id
            self.created = created
            self.ownedBy = ownedBy
        }
    }

    public init(data: [Model]) { self.data = data }
}

/// An error in OpenAI's shape: `{"error": {"message", "type", "param", "code"}}`.
public struct ErrorBody: Codable, Sendable, Equatable {
    public var error: Detail

    public struct Detail: Codable, Sendable, Equatable {
        public var message: String
        public var type: String
        public var param: String?
        public var code: String?
        public init(message: String, type: String, param: String?, code: String?) {
            self.message = message
            self.type = type
            self.param = param
            self.code = code
        }
    }

    public init(error: Detail) { self.error = error }
}
