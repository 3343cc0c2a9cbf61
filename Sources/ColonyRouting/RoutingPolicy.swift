import ColonyEngine
import Foundation

/// Picks a worker for each request. A pure value: the clock comes in as `now` and the cache
/// view as a `KVIndex`, so every rule is tested without a network or a model.
///
/// ```swift
/// var policy = RoutingPolicy(strategy: .kv)
/// let d = policy.route(RouteRequest(promptBlocks: hashes), workers: loads, index: index, now: Date())
/// ```
public struct RoutingPolicy: Sendable {
    public var strategy: RoutingStrategy
    /// Weight of a prompt block the worker would have to compute (Dynamo's overlap weight):
    /// higher favours time to first token, lower favours spreading decode load.
    public var kvAlpha: Double
    public var imbalanceGuard: ImbalanceGuard
    /// How long a session stays with its worker after its last request.
    public var sessionTTL: TimeInterval
    /// Requests waiting under `score` for a worker with room, most urgent first.
    public private(set) var waiting = TaskScheduler()
    private var turn = 0
    private var sessions: [String: (worker: String, lastUsed: Date)] = [:]

    public init(
        strategy: RoutingStrategy = .kv, kvAlpha: Double = 1, imbalanceGuard: ImbalanceGuard = ImbalanceGuard(),
        sessionTTL: TimeInterval = 600
    ) {
        self.strategy = strategy
        self.kvAlpha = kvAlpha
        self.imbalanceGuard = imbalanceGuard
        self.sessionTTL = sessionTTL
    }

    /// Sessions remembered now.
    public var sessionCount: Int { sessions.count }

    /// The worker for `request` among `workers` (the routable ones), passing over those it
    /// avoids while others remain; nil when there is none. Under `score`, nil also means the request waits: it is queued, and
    /// each later call for it places it once it is the most urgent request some worker has
    /// room for. A caller that gives up waiting calls `abandon`.
    public mutating func route(_ request: RouteRequest, workers all: [WorkerLoad], index: KVIndex, now: Date) -> RoutingDecision? {
        let workers = passingOver(request.avoiding, all, id: \.id)
        let cached = { (w: String) in index.matchedBlocks(request.promptBlocks, on: w) }
        switch request.strategy ?? strategy {
        case .score:
            // Every worker takes part: a request waiting ahead of this one may not avoid the same ones.
            guard let w = routeByScore(request, workers: all, now: now) else { return nil }
            return RoutingDecision(worker: w, reason: .score, cachedBlocks: cached(w))
        case _ where workers.isEmpty:
            return nil
        case .roundRobin:
            let ordered = workers.sorted { $0.id < $1.id }
            let w = ordered[turn % ordered.count]
            turn &+= 1
            return RoutingDecision(worker: w.id, reason: .roundRobin, cachedBlocks: cached(w.id))
        case .leastLoad:
            let w = workers.min { ($0.inFlight, $0.activeBlocks, $0.id) < ($1.inFlight, $1.activeBlocks, $1.id) }!
            return RoutingDecision(worker: w.id, reason: .leastLoad, cachedBlocks: cached(w.id))
        case .kv:
            return routeByCost(request, workers: workers, index: index, now: now)
        }
    }

    /// A request that waited under `score` and stopped waiting (cancelled, timed out) leaves the queue.
    public mutating func abandon(_ id: String) { waiting.remove(id) }

    private mutating func routeByScore(_ request: RouteRequest, workers: [WorkerLoad], now: Date) -> String? {
        if !waiting.contains(request.id) {
            waiting.submit(QueuedTask(id: request.id, priority: request.priority, enqueued: now, avoiding: request.avoiding))
        }
        // Only the most urgent request that fits is placed; the others keep waiting for their turn.
        guard let next = waiting.peek(workers: workers.map(WorkerState.init), now: now), next.task.id == request.id else { return nil }
        waiting.remove(request.id)
        return next.worker
    }

    private mutating func routeByCost(
        _ request: RouteRequest, workers: [WorkerLoad], index: KVIndex, now: Date
    ) -> RoutingDecision {
        let matched = index.matchedBlocks(request.promptBlocks)
        let cached = { (w: WorkerLoad) in matched[w.id] ?? 0 }
        expireSessions(now: now)
        let allowed = imbalanceGuard.restrict(workers)
        let candidates = allowed ?? workers
        let decision: RoutingDecision
        if let session = request.session, let known = sessions[session], now.timeIntervalSince(known.lastUsed) < sessionTTL,
            let w = candidates.first(where: { $0.id == known.worker })
        {
            decision = RoutingDecision(worker: w.id, reason: .session, cachedBlocks: cached(w))
        } else {
            let scored = candidates.map { w in
                let hit = cached(w)
                return (w, hit, kvAlpha * Double(request.promptBlocks.count - hit) + Double(w.activeBlocks))
            }
            let best = scored.min { ($0.2, $0.0.inFlight, $0.0.id) < ($1.2, $1.0.inFlight, $1.0.id) }!
            decision = RoutingDecision(worker: best.0.id, reason: allowed == nil ? .kvCost : .imbalance, cachedBlocks: best.1)
        }
        if let session = request.session { sessions[session] = (decision.worker, now) }
        return decision
    }

    private mutating func expireSessions(now: Date) {
        // Sweep only once the table has grown, so routing stays O(workers) per request.
        guard sessions.count > 1024 else { return }
        sessions = sessions.filter { now.timeIntervalSince($0.value.lastUsed) < sessionTTL }
    }
}
