import ColonyEngine

/// How the router picks a worker (`--routing`).
public enum RoutingStrategy: String, CaseIterable, Sendable {
    /// The lowest cost α·(prompt blocks the worker lacks) + (the worker's active blocks),
    /// with session affinity and an imbalance guard.
    case kv
    /// Each worker in turn.
    case roundRobin = "round-robin"
    /// The worker with the fewest requests in flight.
    case leastLoad = "least-load"
}

/// Why the router picked a worker: a label of the routing-decision metric.
public enum RoutingReason: String, CaseIterable, Sendable {
    case roundRobin = "round_robin"
    case leastLoad = "least_load"
    /// The lowest KV cost.
    case kvCost = "kv_cost"
    /// The worker that served the session before.
    case session
    /// Load was imbalanced: chosen among the least loaded workers only.
    case imbalance
}

/// A candidate worker as the router sees it now.
public struct WorkerLoad: Sendable, Equatable {
    public var id: String
    /// Requests the router has sent there that have not finished.
    public var inFlight: Int
    /// KV blocks those requests hold (prompt plus generated tokens, in blocks).
    public var activeBlocks: Int

    public init(id: String, inFlight: Int, activeBlocks: Int) {
        self.id = id
        self.inFlight = inFlight
        self.activeBlocks = activeBlocks
    }
}

/// What routing needs to know about a request.
public struct RouteRequest: Sendable, Equatable {
    /// Prefix hashes of the prompt's full blocks, as the workers hash them.
    public var promptBlocks: [PrefixHash]
    /// The `user` field or `x-session-id` header: the `kv` strategy keeps a session on one worker.
    public var session: String?

    public init(promptBlocks: [PrefixHash], session: String? = nil) {
        self.promptBlocks = promptBlocks
        self.session = session
    }
}

/// The worker chosen, why, and how many prompt blocks it already caches.
public struct RoutingDecision: Sendable, Equatable {
    public var worker: String
    public var reason: RoutingReason
    public var cachedBlocks: Int

    public init(worker: String, reason: RoutingReason, cachedBlocks: Int) {
        self.worker = worker
        self.reason = reason
        self.cachedBlocks = cachedBlocks
    }
}
