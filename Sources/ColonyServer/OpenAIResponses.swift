import ColonyEngine
import ColonyModels
import ColonyOpenAI

extension UsageBody {
    init(_ u: Usage) {
        self.init(promptTokens: u.promptTokens, completionTokens: u.completionTokens, cachedTokens: u.cachedPromptTokens)
    }
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
