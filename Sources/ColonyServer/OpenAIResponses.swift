import ColonyEngine
import ColonyModels
import Foundation

struct UsageBody: Encodable {
    let prompt_tokens: Int
    let completion_tokens: Int
    let total_tokens: Int
    let prompt_tokens_details: Details
    struct Details: Encodable { let cached_tokens: Int }

    init(_ u: Usage) {
        prompt_tokens = u.promptTokens
        completion_tokens = u.completionTokens
        total_tokens = u.promptTokens + u.completionTokens
        prompt_tokens_details = Details(cached_tokens: u.cachedPromptTokens)
    }
}

struct ChatCompletionBody: Encodable {
    struct Choice: Encodable {
        let index: Int
        let message: Message
        let finish_reason: String?
        let logprobs: String? = nil
    }
    struct Message: Encodable {
        let role: String
        let content: String?
        let tool_calls: [ToolCallBody]?
    }
    let id: String
    let object = "chat.completion"
    let created: Int
    let model: String
    let choices: [Choice]
    let usage: UsageBody
}

struct ChatChunkBody: Encodable {
    struct Choice: Encodable {
        let index: Int
        let delta: Delta
        let finish_reason: String?
        let logprobs: String? = nil
    }
    struct Delta: Encodable {
        let role: String?
        let content: String?
        var tool_calls: [ToolCallBody]? = nil
    }
    let id: String
    let object = "chat.completion.chunk"
    let created: Int
    let model: String
    let choices: [Choice]
    let usage: UsageBody?
}

struct CompletionBody: Encodable {
    struct Choice: Encodable {
        let index: Int
        let text: String
        let finish_reason: String?
        let logprobs: String? = nil
    }
    let id: String
    let object = "text_completion"
    let created: Int
    let model: String
    let choices: [Choice]
    let usage: UsageBody?
}

struct ModelListBody: Encodable {
    struct Model: Encodable {
        let id: String
        let object = "model"
        let created: Int
        let owned_by = "colony"
    }
    let object = "list"
    let data: [Model]
}

extension FinishReason {
    /// OpenAI's `finish_reason` (a full context counts as `length`).
    var openAI: String? {
        switch self {
        case .stop: "stop"
        case .length, .contextFull: "length"
        case .cancelled: nil
        }
    }
}

struct ToolCallBody: Encodable {
    struct Function: Encodable {
        let name: String
        let arguments: String
    }
    var index = 0
    let id: String
    let type = "function"
    let function: Function

    init(name: String, arguments: String) {
        id = "call_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(24).lowercased()
        function = Function(name: name, arguments: arguments)
    }
}
