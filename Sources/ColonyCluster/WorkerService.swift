import ColonyEngine
import ColonyRouting
import Foundation
import GRPCCore
import Logging
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
/// events for routers, and promotion of a spare.
final class WorkerService: Colony_Cluster_V1_Worker.SimpleServiceProtocol {
    let engine: Engine
    let identity: WorkerIdentity
    let hub: KVEventHub
    let discovery: (any Discovery)?
    private let draining = Atomic<Bool>(false)
    /// Generate calls whose handler has not returned yet.
    private let streams = Atomic<Int>(0)
    /// The role now (a spare becomes active when promoted) and the address it registered.
    private let listing = Mutex<(role: ClusterMember.Role, address: String?)>((.active, nil))
    private let logger = Logger(label: "colony.worker")

    init(engine: Engine, identity: WorkerIdentity, hub: KVEventHub, discovery: (any Discovery)?) {
        self.engine = engine
        self.identity = identity
        self.hub = hub
        self.discovery = discovery
        listing.withLock { $0.role = identity.role }
    }

    /// From now on new requests are refused with UNAVAILABLE; those in flight go on.
    func startDraining() { draining.store(true, ordering: .relaxed) }

    var isDraining: Bool { draining.load(ordering: .relaxed) }

    /// Generate calls still being answered.
    var openStreams: Int { streams.load(ordering: .relaxed) }

    var role: ClusterMember.Role { listing.withLock { $0.role } }

    /// Lists this worker in discovery at `address` with its current role.
    func register(address: String) throws(DiscoveryError) {
        let role = listing.withLock { l in
            l.address = address
            return l.role
        }
        try discovery?.register(
            ClusterMember(id: identity.id, role: role, address: address, pid: Int(ProcessInfo.processInfo.processIdentifier)))
    }

    func generate(
        request: Colony_Cluster_V1_GenerateRequest, response: RPCWriter<Colony_Cluster_V1_GenerateEvent>, context: ServerContext
    ) async throws {
        guard !isDraining else { throw RPCError(code: .unavailable, message: "worker '\(identity.id)' is draining") }
        streams.add(1, ordering: .relaxed)
        defer { streams.subtract(1, ordering: .relaxed) }
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
                if reason == .cancelled, isDraining {
                    // The drain's deadline ended it, not the client: a router moves it on.
                    throw RPCError(code: .unavailable, message: "worker '\(identity.id)' drained before the request finished")
                }
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
        await currentStatus()
    }

    func promote(request: Colony_Cluster_V1_PromoteRequest, context: ServerContext) async throws -> Colony_Cluster_V1_WorkerStatus {
        let (was, address) = listing.withLock { l in
            defer { l.role = .active }
            return (l.role, l.address)
        }
        if was == .spare {
            logger.info("worker \(identity.id) promoted from spare to active")
            if let address {
                do { try register(address: address) } catch {
                    listing.withLock { $0.role = .spare }
                    throw RPCError(code: .unavailable, message: "cannot list '\(identity.id)' as active: \(error.description)")
                }
            }
        }
        return await currentStatus()
    }

    private func currentStatus() async -> Colony_Cluster_V1_WorkerStatus {
        let s = engine.stats
        let lastID = await hub.lastID
        return .with {
            $0.id = identity.id
            $0.role = role.rawValue
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
            $0.maxBatch = Int32(engine.configuration.maxBatch)
            $0.interTokenSecondsSum = s.interTokenLatency.sum
            $0.interTokenCount = Int64(s.interTokenLatency.count)
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
