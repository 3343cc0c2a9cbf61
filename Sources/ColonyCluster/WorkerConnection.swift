import ColonyRouting
import GRPCCore
import GRPCNIOTransportHTTP2
import Synchronization

/// The router's gRPC channel to one worker, and the background loops that follow it (its
/// status and its KV events). Closing it stops them all.
final class WorkerConnection: Sendable {
    typealias Stub = Colony_Cluster_V1_Worker.Client<HTTP2ClientTransport.Posix>

    let member: ClusterMember
    let stub: Stub
    private let client: GRPCClient<HTTP2ClientTransport.Posix>
    private let tasks = Mutex<[Task<Void, Never>]>([])

    /// - Throws: `DiscoveryError.invalidMember` for an address that is not host:port.
    init(member: ClusterMember) throws {
        guard let (host, port) = member.hostAndPort else { throw DiscoveryError.invalidMember("'\(member.address)' is not host:port") }
        self.member = member
        var config = HTTP2ClientTransport.Posix.Config.defaults
        // HTTP/2 pings notice a worker that stopped answering (SIGSTOP, a cut link) even
        // while no call is in flight.
        config.connection.keepalive = .init(time: .seconds(2), timeout: .seconds(2), allowWithoutCalls: true)
        config.backoff = .init(initial: .milliseconds(100), max: .seconds(1), multiplier: 1.6, jitter: 0.2)
        client = GRPCClient(
            transport: try .http2NIOPosix(target: .ipv4(address: host, port: port), transportSecurity: .plaintext, config: config))
        stub = Stub(wrapping: client)
        let client = client
        spawn { try? await client.runConnections() }
    }

    /// Runs `body` until the connection closes.
    func spawn(_ body: @escaping @Sendable () async -> Void) {
        let task = Task { await body() }
        tasks.withLock { $0.append(task) }
    }

    func close() {
        client.beginGracefulShutdown()
        tasks.withLock { for t in $0 { t.cancel() } }
    }

    /// Call options with a deadline.
    static func within(_ timeout: Duration) -> CallOptions {
        var o = CallOptions.defaults
        o.timeout = timeout
        return o
    }
}

/// Asks the worker at `address` (a spare) to become active, as a router does when an active
/// fails; an autoscaler does it before starting a new worker.
public func promoteWorker(at address: String, timeout: Duration = .seconds(5)) async throws {
    let c = try WorkerConnection(member: ClusterMember(id: "", role: .spare, address: address))
    defer { c.close() }
    _ = try await c.stub.promote(.init(), options: WorkerConnection.within(timeout))
}
