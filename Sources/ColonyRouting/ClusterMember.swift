/// A process of the cluster as discovery lists it: who it is and where to reach it.
public struct ClusterMember: Codable, Sendable, Equatable {
    public enum Role: String, Codable, Sendable, CaseIterable {
        /// Routed to.
        case active
        /// Loaded and warm, but not routed to until promoted.
        case spare
    }

    public var id: String
    public var role: Role
    /// `host:port` of its gRPC service.
    public var address: String
    /// Its process id, when it runs on this host.
    public var pid: Int?

    public init(id: String, role: Role, address: String, pid: Int? = nil) {
        self.id = id
        self.role = role
        self.address = address
        self.pid = pid
    }

    /// `address` split into host and port.
    public var hostAndPort: (host: String, port: Int)? {
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]),
            (1...65535).contains(port)
        else { return nil }
        let host = String(address[..<colon])
        return host.isEmpty ? nil : (host, port)
    }
}
