import ColonyAgents
import Synchronization

/// Passes requests to a client and keeps them and the replies, in order: phase 1 of the
/// agents bench records what the agents ask, so the engine alone can replay it.
public final class RecordingClient: LLMClient {
    private let inner: any LLMClient
    // Mutex: agents call `complete` from concurrent tasks.
    private let log = Mutex<([LLMRequest], [LLMReply])>(([], []))

    public init(_ inner: any LLMClient) { self.inner = inner }

    /// The requests passed on so far, in order.
    public var requests: [LLMRequest] { log.withLock { $0.0 } }
    /// The replies received so far, in order.
    public var replies: [LLMReply] { log.withLock { $0.1 } }

    public func complete(_ request: LLMRequest) async throws -> LLMReply {
        let reply = try await inner.complete(request)
        log.withLock {
            $0.0.append(request)
            $0.1.append(reply)
        }
        return reply
    }
}
