import ColonyEngine
import ColonyModels
import ColonyRouting
import Foundation

/// Everything the router knows, behind one lock in `RoutedBackend`: members and their
/// reported status, the router's own load accounting, the KV index and the routing policy.
struct RouterState {
    struct Member {
        var member: ClusterMember
        var state: MemberState = .starting
        var status: WireStatus?
        /// Why the member is dead or suspect.
        var detail: String?
        /// Requests the router sent there that have not finished, and the blocks they hold.
        var inFlight = 0
        var activeBlocks = 0
    }

    var members: [String: Member] = [:]
    var policy: RoutingPolicy
    var index = KVIndex()
    /// Requests waiting at the router for a routable worker.
    var queued = 0
    var decisions: [String: Int] = [:]
    var kvGaps: [String: Int] = [:]
    var discoveryError: String?
    /// Finish reasons, token counts and latencies of the requests routed.
    var stats = EngineStats()
    var cachedPromptTokens = 0

    init(policy: RoutingPolicy) { self.policy = policy }

    /// Active, ready members: what routing may choose from.
    var routable: [WorkerLoad] {
        members.values.filter { $0.state == .ready && $0.member.role == .active }
            .map { WorkerLoad(id: $0.member.id, inFlight: $0.inFlight, activeBlocks: $0.activeBlocks) }
    }

    /// Routes a request and charges the chosen worker with it (`blocks` KV blocks).
    mutating func route(_ request: RouteRequest, blocks: Int, now: Date) -> RoutingDecision? {
        guard let d = policy.route(request, workers: routable, index: index, now: now) else { return nil }
        members[d.worker]?.inFlight += 1
        members[d.worker]?.activeBlocks += blocks
        decisions["\(policy.strategy.rawValue)|\(d.reason.rawValue)", default: 0] += 1
        return d
    }

    /// Gives back what `route` charged (and blocks grown since): on every way a request ends.
    mutating func release(_ worker: String, blocks: Int) {
        members[worker]?.inFlight -= 1
        members[worker]?.activeBlocks -= blocks
    }

    /// Takes a member out of routing and out of the KV index until it answers again.
    mutating func markSuspect(_ worker: String, _ why: String) {
        guard members[worker]?.state == .ready else { return }
        members[worker]?.state = .suspect
        members[worker]?.detail = why
        index.remove(worker)
    }

    /// Records the request's outcome in the router's counters.
    mutating func record(_ reason: FinishReason, _ usage: Usage) {
        stats.finished[reason.rawValue, default: 0] += 1
        stats.promptTokens += usage.promptTokens
        stats.generatedTokens += usage.completionTokens
        cachedPromptTokens += usage.cachedPromptTokens
    }

    /// The engine-shaped view of the whole cluster, for `/metrics` and `/health`.
    var clusterStats: EngineStats {
        var s = stats
        s.waiting = queued
        for m in members.values where m.state == .ready || m.state == .draining {
            guard let st = m.status else { continue }
            s.waiting += Int(st.waiting)
            s.running += Int(st.running)
            s.kvBlocksUsed += Int(st.kvBlocksUsed)
            s.kvBlocksFree += Int(st.kvBlocksTotal - st.kvBlocksUsed)
            s.queuedPrefillTokens += Int(st.queuedPrefillTokens)
        }
        s.prefixCacheHitRate = s.promptTokens == 0 ? 0 : Double(cachedPromptTokens) / Double(s.promptTokens)
        return s
    }

    /// Every member as `GET /v1/cluster` shows it, sorted by id.
    var memberStatuses: [MemberStatus] {
        members.values.sorted { $0.member.id < $1.member.id }.map { m in
            var s = MemberStatus(
                id: m.member.id, role: m.member.role.rawValue, state: m.state, pid: m.member.pid, address: m.member.address)
            if let st = m.status {
                s.running = Int(st.running)
                s.waiting = Int(st.waiting)
                s.kvBlocksUsed = Int(st.kvBlocksUsed)
                s.kvBlocksTotal = Int(st.kvBlocksTotal)
                s.model = st.model
                s.modelDigest = st.modelDigest
            }
            s.detail = m.detail
            return s
        }
    }
}
