import ColonyAgents
import Synchronization

/// Answers instantly with recorded replies, in order: an "instant model" that leaves only
/// the agent runtime's own cost per step. Once they run out it answers a fixed text.
public final class ReplayClient: LLMClient {
    private let replies: Mutex<[LLMReply]>

    public init(_ replies: [LLMReply]) { self.replies = Mutex(replies) }

    public func complete(_ request: LLMRequest) async throws -> LLMReply {
        replies.withLock { $0.isEmpty ? LLMReply(text: "(no more recorded replies)") : $0.removeFirst() }
    }
}
