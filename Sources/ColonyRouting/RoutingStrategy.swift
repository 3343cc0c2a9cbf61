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
    /// The highest 0.6·(1 − load) + 0.3·(1 − latency) + 0.1·priority over workers with
    /// room (load: running and waiting over the engine's batch; latency: recent time between
    /// tokens over the slowest worker's). When none has room the request waits at the
    /// router, the most urgent first, and waiting raises its priority so none starves.
    case score
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
    /// The highest placement score.
    case score
}

/// A candidate worker as the router sees it now.
public struct WorkerLoad: Sendable, Equatable {
    public var id: String
    /// Requests the router has sent there that have not finished.
    public var inFlight: Int
    /// KV blocks those requests hold (prompt plus generated tokens, in blocks).
    public var activeBlocks: Int
    /// Requests running and waiting on it at its last report (every router's).
    public var reported: Int
    /// Requests its engine batches at once.
    public var capacity: Int
    /// Its recent mean time between tokens, in seconds (0 before it has generated any).
    public var interTokenSeconds: Double

    public init(id: String, inFlight: Int, activeBlocks: Int, reported: Int = 0, capacity: Int = 1, interTokenSeconds: Double = 0) {
        self.id = id
        self.inFlight = inFlight
        self.activeBlocks = activeBlocks
        self.reported = reported
        self.capacity = capacity
        self.interTokenSeconds = interTokenSeconds
    }
}

/// What routing needs to know about a request.
public struct RouteRequest: Sendable, Equatable {
    /// The request's id: `score` placement keeps a request that waits under it.
    public var id: String
    /// Prefix hashes of the prompt's full blocks, as the workers hash them.
    public var promptBlocks: [PrefixHash]
    /// The `user` field or `x-session-id` header: the `kv` strategy keeps a session on one worker.
    public var session: String?
    /// 0 (low) … 1 (high): orders the requests waiting under `score`.
    public var priority: Double
    /// The strategy this request asks for (an `x-colony-routing` header), else the policy's.
    public var strategy: RoutingStrategy?
    /// Workers it already failed on: passed over while another routable worker can take
    /// it (see `passingOver`).
    public var avoiding: Set<String>

    public init(
        id: String = "", promptBlocks: [PrefixHash], session: String? = nil, priority: Double = 0.5,
        strategy: RoutingStrategy? = nil, avoiding: Set<String> = []
    ) {
        self.id = id
        self.promptBlocks = promptBlocks
        self.session = session
        self.priority = priority
        self.strategy = strategy
        self.avoiding = avoiding
    }

    /// The score's 0…1 priority for an engine priority (larger runs first; 0 by default):
    /// −5 and below are 0, 0 is 0.5, 5 and above are 1.
    public static func priority(engine p: Int) -> Double { min(1, max(0, (Double(p) + 5) / 10)) }
}

/// `workers` without those in `avoiding`, unless that leaves none: then all of them. Only
/// routable workers are offered, and one a request failed on is routable again only after
/// it answered since, so trying it again is fair once it is the only choice; the
/// migration limit bounds the tries. (A hard exclusion failed requests on a loaded machine
/// whose healthy workers had each missed one status deadline.)
func passingOver<W>(_ avoiding: Set<String>, _ workers: [W], id: (W) -> String) -> [W] {
    guard !avoiding.isEmpty else { return workers }
    let others = workers.filter { !avoiding.contains(id($0)) }
    return others.isEmpty ? workers : others
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
