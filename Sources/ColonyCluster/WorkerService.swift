import ColonyEngine
import ColonyRouting
import Foundation
import GRPCCore
import Synchronization

/// Who a worker is, as it advertises itself.
public struct WorkerIdentity: Sendable, Equatable {
    public var id: String
    public var role: ClusterMember.Role
    /// The model name requests must use.
    public var model: String
    /// `ModelDigest` of the model file.
    public var modelDigest: String

    public init(id: String, role: ClusterMember.Role, model: String, modelDigest: String) {
        self.id = id
        self.role = role
        self.model = model
        self.modelDigest = modelDigest
    }
}

/// The gRPC worker service over one engine: token ids out, cancellation in, load and KV
/// events for routers.
final class WorkerService: Colony_Cluster_V1_Worker.SimpleServiceProtocol {
    let engine: Engine
    let identity: WorkerIdentity
    let hub: KVEventHub
    private let draining = Atomic<Bool>(false)

    init(engine: Engine, identity: WorkerIdentity, hub: KVEventHub) {
        self.engine = engine
        self.identity = identity
        self.hub = hub
    }

    /// From now on new requests are refused with UNAVAILABLE; those in flight go on.
    func startDraining() { draining.store(true, ordering: .relaxed) }

    var isDraining: Bool { draining.load(ordering: .relaxed) }

    func generate(
        request: Colony_Cluster_V1_GenerateRequest, response: RPCWriter<Colony_Cluster_V1_GenerateEvent>, context: ServerContext
    ) async throws {
        guard !isDraining else { throw RPCError(code: .unavailable, message: "worker '\(identity.id)' is draining") }
        let stream: AsyncThrowingStream<EngineEvent, Error>
        let id = request.id
        do { stream = try engine.submit(try request.engineRequest()) } catch { throw RPCError(error) }
        var finished = false
        // A client that cancels the call, or a write that fails, ends the loop early: the
        // request must not keep its KV blocks on this worker.
        defer { if !finished { engine.cancel(id) } }
        for try await event in stream {
            switch event {
            case .token(let token, _):
                try await response.write(.with { $0.token = Int32(token) })
            case .finished(let reason, let usage, _):
                finished = true
                try await response.write(
                    .with {
                        $0.finished = .with {
                            $0.reason = reason.rawValue
                            $0.promptTokens = Int32(usage.promptTokens)
                            $0.completionTokens = Int32(usage.completionTokens)
                            $0.cachedPromptTokens = Int32(usage.cachedPromptTokens)
                        }
                    })
            }
        }
    }

    func cancel(request: Colony_Cluster_V1_CancelRequest, context: ServerContext) async throws -> Colony_Cluster_V1_CancelReply {
        engine.cancel(request.id)
        return .init()
    }

    func status(request: Colony_Cluster_V1_StatusRequest, context: ServerContext) async throws -> Colony_Cluster_V1_WorkerStatus {
        let s = engine.stats
        let lastID = await hub.lastID
        return .with {
            $0.id = identity.id
            $0.role = identity.role.rawValue
            $0.state = isDraining ? MemberState.draining.rawValue : MemberState.ready.rawValue
            $0.model = identity.model
            $0.modelDigest = identity.modelDigest
            $0.running = Int32(s.running)
            $0.waiting = Int32(s.waiting)
            $0.kvBlocksUsed = Int32(s.kvBlocksUsed)
            $0.kvBlocksTotal = Int32(engine.configuration.kvBlocks)
            $0.queuedPrefillTokens = Int64(s.queuedPrefillTokens)
            $0.blockSize = Int32(engine.configuration.blockSize)
            $0.maxContextTokens = Int32(engine.maxContextTokens)
            $0.prefixCacheSalt = engine.configuration.prefixCacheSalt ?? ""
            $0.lastEventID = lastID
            $0.pid = Int64(ProcessInfo.processInfo.processIdentifier)
        }
    }

    func kvEvents(
        request: Colony_Cluster_V1_KVEventsRequest, response: RPCWriter<Colony_Cluster_V1_KVEventBatch>, context: ServerContext
    ) async throws {
        for await update in await hub.subscribe(after: request.afterID) {
            try await response.write(.with { $0.events = [WireKVMessage(update)] })
        }
    }
}
