import ColonyModels

/// A whole reply gathered from a request's event stream: what front doors that do not
/// stream (a non-streaming HTTP request, an agent's model call) work with.
public struct CollectedReply: Sendable, Equatable {
    public var text = ""
    public var finishReason = FinishReason.cancelled
    public var usage: Usage

    /// Reads `stream` to its end; `promptTokens` is the usage reported if it ends early.
    /// - Throws: the stream's transport error.
    public static func collect(_ stream: AsyncThrowingStream<EngineEvent, Error>, promptTokens: Int) async throws -> CollectedReply {
        var reply = CollectedReply(usage: Usage(promptTokens: promptTokens, completionTokens: 0, cachedPromptTokens: 0))
        for try await event in stream {
            switch event {
            case .token(_, let piece): reply.text += piece
            case .finished(let reason, let usage, let tail):
                reply.text += tail
                reply.finishReason = reason
                reply.usage = usage
            }
        }
        return reply
    }
}
