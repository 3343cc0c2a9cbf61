/// Where a member is in its life, as the router sees it.
public enum MemberState: String, Codable, Sendable, CaseIterable {
    /// Listed, but has not answered yet.
    case starting
    case ready
    /// Stopped answering in time (or its stream broke): not routed to until it answers again.
    case suspect
    /// Finishing what it has and taking nothing new.
    case draining
    /// Gone, or refused (another model): never routed to.
    case dead
}

/// One member in `GET /v1/cluster` and `colony cluster status --json`.
public struct MemberStatus: Codable, Sendable, Equatable {
    public var id: String
    /// `router`, `active` or `spare`.
    public var role: String
    public var state: MemberState
    /// nil for a member on another host.
    public var pid: Int?
    public var address: String
    public var running = 0
    public var waiting = 0
    public var kvBlocksUsed = 0
    public var kvBlocksTotal = 0
    public var model = ""
    public var modelDigest = ""
    /// Requests its engine batches at once.
    public var capacity = 0
    /// Its recent mean time between tokens, in seconds (0 before it has generated any).
    public var interTokenSeconds = 0.0
    /// Why a member is dead or suspect, for people reading the status.
    public var detail: String?

    public init(id: String, role: String, state: MemberState, pid: Int?, address: String) {
        self.id = id
        self.role = role
        self.state = state
        self.pid = pid
        self.address = address
    }

    enum CodingKeys: String, CodingKey {
        case id, role, state, pid, address, running, waiting, model, detail
        case kvBlocksUsed = "kv_blocks_used"
        case kvBlocksTotal = "kv_blocks_total"
        case modelDigest = "model_digest"
        case capacity
        case interTokenSeconds = "inter_token_seconds"
    }

    // Written by hand so that a missing pid is `null`, not an absent key.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(role, forKey: .role)
        try c.encode(state, forKey: .state)
        try c.encode(pid, forKey: .pid)
        try c.encode(address, forKey: .address)
        try c.encode(running, forKey: .running)
        try c.encode(waiting, forKey: .waiting)
        try c.encode(kvBlocksUsed, forKey: .kvBlocksUsed)
        try c.encode(kvBlocksTotal, forKey: .kvBlocksTotal)
        try c.encode(model, forKey: .model)
        try c.encode(modelDigest, forKey: .modelDigest)
        try c.encode(capacity, forKey: .capacity)
        try c.encode(interTokenSeconds, forKey: .interTokenSeconds)
        try c.encodeIfPresent(detail, forKey: .detail)
    }
}

/// Every member of a cluster: the body of `GET /v1/cluster`.
public struct ClusterStatus: Codable, Sendable, Equatable {
    public var members: [MemberStatus]

    public init(members: [MemberStatus]) { self.members = members }
}
