import ColonyEngine
import ColonyRouting
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import Synchronization

/// A worker process: its engine served over gRPC, listed in discovery while it runs.
///
/// ```swift
/// let node = WorkerNode(engine: engine, identity: identity, discovery: discovery)
/// try await node.run(host: "127.0.0.1", port: 0) { port in print("listening on \(port)") }
/// ```
public final class WorkerNode: Sendable {
    public let engine: Engine
    public let identity: WorkerIdentity
    public let discovery: (any Discovery)?
    /// The address it listens on, and advertises.
    public let host: String
    /// How long a drain waits for requests in flight before cancelling them.
    public let drainTimeout: Duration
    private let service: WorkerService
    private let server: GRPCServer<HTTP2ServerTransport.Posix>
    private let transport: HTTP2ServerTransport.Posix
    private let logger = Logger(label: "colony.worker")
    /// Why discovery dropped this worker for good, once it has.
    private let lost = Mutex<String?>(nil)

    /// - Parameter engine: should publish KV events (`publishesKVEvents`), else routers see
    ///   an empty cache and `kv` routing degrades to load balancing.
    public init(
        engine: Engine, identity: WorkerIdentity, discovery: (any Discovery)?, host: String, port: Int,
        drainTimeout: Duration = .seconds(30)
    ) {
        self.engine = engine
        self.identity = identity
        self.discovery = discovery
        self.host = host
        self.drainTimeout = drainTimeout
        let hub = KVEventHub()
        service = WorkerService(engine: engine, identity: identity, hub: hub, discovery: discovery)
        transport = .http2NIOPosix(address: .ipv4(host: host, port: port), transportSecurity: .plaintext)
        server = GRPCServer(transport: transport, services: [service])
        Task { await hub.consume(engine.kvEvents) }
    }

    /// Serves until `drain` ends it. `onListening` gets the bound port, after the worker
    /// registered itself in discovery.
    public func run(onListening: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await self.server.serve() }
            let port = try await boundPort()
            do { try service.register(address: "\(host):\(port)") } catch {
                server.beginGracefulShutdown()
                throw error
            }
            discovery?.onLoss { [self] why in
                lost.withLock { $0 = why }
                Task { await stopServing() }
            }
            await onListening(port)
            try await group.waitForAll()
        }
        if let why = lost.withLock({ $0 }) { throw WorkerNodeError.registrationLost(why) }
    }

    /// The port the server listens on, once bound.
    public func boundPort() async throws -> Int {
        guard let address = try await transport.listeningAddress.ipv4 else {
            throw RPCError(code: .internalError, message: "not an IPv4 address")
        }
        return address.port
    }

    /// The role now: a spare becomes active when a router promotes it.
    public var role: ClusterMember.Role { service.role }

    /// Stops admitting, leaves discovery, waits (up to `drainTimeout`) for the requests in
    /// flight, then ends the ones left with UNAVAILABLE (a router moves them to another
    /// worker, where they go on from their last token) and stops the server so `run` returns.
    public func drain() async {
        service.startDraining()
        if let discovery { try? discovery.deregister(id: identity.id) }
        let deadline = ContinuousClock.now + drainTimeout
        while ContinuousClock.now < deadline {
            let s = engine.stats
            if s.running + s.waiting == 0 { break }
            try? await Task.sleep(for: .milliseconds(50))
        }
        await stopServing()
    }

    /// Ends what runs with UNAVAILABLE (a router moves it on) and stops the server.
    private func stopServing() async {
        service.startDraining()
        await engine.shutdown(cancelInFlight: true)
        // Each open call ends with the drain's UNAVAILABLE, which tells a router this was a
        // drain; shutting the server down under it would leave only a broken stream, which a
        // router must count as a failure.
        let deadline = ContinuousClock.now + .seconds(2)
        while service.openStreams > 0, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(5)) }
        server.beginGracefulShutdown()
    }
}

/// Why a worker stopped serving on its own.
public enum WorkerNodeError: Error, CustomStringConvertible {
    /// Discovery dropped the worker (its etcd lease expired while it was out of touch):
    /// routers count it out, so it stops rather than serve as a zombie.
    case registrationLost(String)

    public var description: String {
        switch self {
        case .registrationLost(let why): "\(why); stopped serving (a supervisor starts it again, registered afresh)"
        }
    }
}
