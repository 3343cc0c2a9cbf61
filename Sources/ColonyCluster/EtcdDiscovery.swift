import ColonyHTTP
import ColonyRouting
import Foundation
import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Membership in etcd, for clusters of many hosts, through etcd's v3 JSON gateway.
///
/// Each member is a key `PREFIX/members/ID` (its `ClusterMember` as JSON) bound to a lease
/// of `ttl` seconds. A thread of its own keeps the lease alive, so a busy engine cannot
/// starve it. While etcd cannot be reached the member keeps serving and tries again; when
/// etcd *answers* that the lease is gone (the member was stopped longer than the lease, or
/// an operator revoked it) the loss handler runs and the member must stop serving: a
/// router has already counted it out, and a member that served on would be a zombie.
public final class EtcdDiscovery: Discovery {
    public let endpoints: [HTTPClient.Endpoint]
    /// Keys live under `prefix + "members/"`.
    public let prefix: String
    /// Seconds a lease lives without a keep-alive.
    public let ttl: Int
    private let registration = Mutex<Registration?>(nil)
    private let lossHandler = Mutex<(@Sendable (String) -> Void)?>(nil)
    private let logger = Logger(label: "colony.discovery.etcd")

    private struct Registration {
        var member: ClusterMember
        var lease: String
        /// Deregistered, or the lease is gone: the keeper thread ends.
        var stopped = false
    }

    /// - Parameter url: `etcd://HOST:PORT[,HOST:PORT…][/PREFIX]`.
    public init(url: String, ttl: Int = 5) throws(DiscoveryError) {
        let rest = url.dropFirst("etcd://".count)
        let (hosts, path) = rest.firstIndex(of: "/").map { (rest[..<$0], String(rest[$0...])) } ?? (rest, "/colony")
        var endpoints: [HTTPClient.Endpoint] = []
        for host in hosts.split(separator: ",") {
            guard host.contains(":") else { throw .unknownScheme(url) }
            do { endpoints.append(try HTTPClient.Endpoint(url: "http://\(host)", anyHost: true)) } catch {
                throw .invalidMember("etcd endpoint '\(host)': \(error.description)")
            }
        }
        guard !endpoints.isEmpty, url.hasPrefix("etcd://") else { throw .unknownScheme(url) }
        self.endpoints = endpoints
        prefix = path.hasSuffix("/") ? path : path + "/"
        self.ttl = ttl
    }

    public func members() throws(DiscoveryError) -> [ClusterMember] {
        let start = prefix + "members/"
        let reply: RangeReply = try call(
            "/v3/kv/range", ["key": Self.base64(start), "range_end": Self.base64(Self.prefixEnd(start))])
        var out: [ClusterMember] = []
        for kv in reply.kvs ?? [] {
            guard let value = kv.value.flatMap({ Data(base64Encoded: $0) }),
                let member = try? JSONDecoder().decode(ClusterMember.self, from: value)
            else { throw .unreadable(path: endpoints[0].description, reason: "a member entry is not a Colony member") }
            out.append(member)
        }
        return out.sorted { $0.id < $1.id }
    }

    public func register(_ member: ClusterMember) throws(DiscoveryError) {
        guard !member.id.isEmpty else { throw .invalidMember("the id is empty") }
        guard member.hostAndPort != nil else { throw .invalidMember("'\(member.address)' is not host:port") }
        var lease = registration.withLock { $0?.lease }
        if lease == nil {
            try waitForID(member)
            let grant: Lease = try call("/v3/lease/grant", ["TTL": "\(ttl)"])
            guard let id = grant.id else { throw .unreadable(path: endpoints[0].description, reason: "etcd granted no lease") }
            lease = id
        }
        try put(member, lease: lease!)
        let start = registration.withLock { r in
            let fresh = r == nil
            if fresh { r = Registration(member: member, lease: lease!) } else { r?.member = member }
            return fresh
        }
        if start { startKeeper() }
    }

    public func deregister(id: String) throws(DiscoveryError) {
        let lease = registration.withLock { r -> String? in
            guard r?.member.id == id else { return nil }
            r?.stopped = true
            return r?.lease
        }
        let _: Empty = try call("/v3/kv/deleterange", ["key": Self.base64(key(id))])
        if let lease { let _: Empty = try call("/v3/lease/revoke", ["ID": lease]) }
    }

    public func onLoss(_ handler: @escaping @Sendable (String) -> Void) { lossHandler.withLock { $0 = handler } }

    private func key(_ id: String) -> String { prefix + "members/" + id }

    private func put(_ member: ClusterMember, lease: String) throws(DiscoveryError) {
        let value: Data
        do { value = try JSONEncoder().encode(member) } catch { throw .invalidMember("\(error)") }
        let _: Empty = try call(
            "/v3/kv/put", ["key": Self.base64(key(member.id)), "value": value.base64EncodedString(), "lease": lease])
    }

    /// Refuses an id another live member holds. An entry left by a process that died (this
    /// host, its pid gone) is taken over; one from elsewhere is waited out for a lease.
    private func waitForID(_ member: ClusterMember) throws(DiscoveryError) {
        let deadline = Date().addingTimeInterval(Double(ttl) + 1)
        while let other = try members().first(where: { $0.id == member.id }) {
            let sameHost = other.hostAndPort?.host == member.hostAndPort?.host
            if sameHost, let pid = other.pid, pid == member.pid || kill(pid_t(pid), 0) != 0 { return }
            guard Date() < deadline else { throw .duplicateID(member.id, addresses: [other.address, member.address]) }
            Thread.sleep(forTimeInterval: 0.2)
        }
    }

    /// Keeps the lease alive every third of its life, on a thread of its own.
    private func startKeeper() {
        let thread = Thread { [weak self] in
            var unreachable = false
            while let self {
                let (lease, member, stopped) = self.registration.withLock { ($0?.lease ?? "", $0?.member, $0?.stopped ?? true) }
                guard !stopped, let member else { return }
                do {
                    let reply: KeepAlive = try self.call("/v3/lease/keepalive", ["ID": lease], timeout: Double(self.ttl) / 3)
                    guard let left = reply.result?.ttl.flatMap(Int.init), left > 0 else {
                        self.registration.withLock { $0?.stopped = true }
                        let why = "etcd says the lease of '\(member.id)' is gone: it was out of touch longer than \(self.ttl) s"
                        self.logger.error("\(why)")
                        self.lossHandler.withLock { $0 }?(why)
                        return
                    }
                    if unreachable {
                        // etcd is back: list the member again, in case its entry was lost with it.
                        try self.put(member, lease: lease)
                        self.logger.notice("etcd reachable again; '\(member.id)' is listed")
                        unreachable = false
                    }
                } catch {
                    if !unreachable { self.logger.warning("etcd unreachable, serving on and retrying: \(error)") }
                    unreachable = true
                }
                Thread.sleep(forTimeInterval: unreachable ? 0.5 : Double(self.ttl) / 3)
            }
        }
        thread.name = "colony-etcd-lease"
        thread.start()
    }

    /// POSTs `body` to each endpoint in turn until one answers.
    private func call<Reply: Decodable>(
        _ path: String, _ body: [String: String], timeout: Double = 2
    ) throws(DiscoveryError) -> Reply {
        var last = "no endpoint"
        let data = (try? JSONEncoder().encode(body)) ?? Data()
        for endpoint in endpoints {
            do {
                let r = try HTTPClient.send(
                    "POST", endpoint, path: path, headers: ["Content-Type": "application/json"], body: data, timeout: timeout)
                guard r.status == 200 else {
                    let message = (try? JSONDecoder().decode(GatewayError.self, from: r.body))?.message
                    throw DiscoveryError.unreadable(
                        path: "\(endpoint.description)\(path)", reason: "etcd answered HTTP \(r.status): \(message ?? "")")
                }
                do { return try JSONDecoder().decode(Reply.self, from: r.body) } catch {
                    throw DiscoveryError.unreadable(path: "\(endpoint.description)\(path)", reason: "unexpected reply: \(error)")
                }
            } catch let e as DiscoveryError {
                throw e
            } catch {
                last = "\(endpoint.description): \(error)"
            }
        }
        throw .unreadable(path: path, reason: "cannot reach etcd (\(last)); is it running?")
    }

    static func base64(_ s: String) -> String { Data(s.utf8).base64EncodedString() }

    /// The smallest key after every key that starts with `prefix`.
    static func prefixEnd(_ prefix: String) -> String {
        var bytes = Array(prefix.utf8)
        bytes[bytes.count - 1] += 1
        return String(decoding: bytes, as: UTF8.self)
    }

    private struct Empty: Decodable {}
    private struct GatewayError: Decodable { var message: String? }
    /// The gateway's lease fields (`ID`, `TTL`; int64 as strings).
    private struct Lease: Decodable {
        var id: String?
        var ttl: String?
        enum CodingKeys: String, CodingKey {
            case id = "ID"
            case ttl = "TTL"
        }
    }
    private struct KeepAlive: Decodable { var result: Lease? }
    private struct RangeReply: Decodable {
        struct KV: Decodable {
            var key: String
            var value: String?
        }
        var kvs: [KV]?
    }
}

/// Opens the discovery backend a `--discovery` URL names: `file:PATH` (one host) or
/// `etcd://HOST:PORT[,HOST:PORT…][/PREFIX]` (many).
public func openDiscovery(_ url: String) throws(DiscoveryError) -> any Discovery {
    if url.hasPrefix("file:") {
        let path = String(url.dropFirst("file:".count))
        guard !path.isEmpty else { throw .unknownScheme(url) }
        return FileDiscovery(path: path)
    }
    if url.hasPrefix("etcd://") { return try EtcdDiscovery(url: url) }
    throw .unknownScheme(url)
}
