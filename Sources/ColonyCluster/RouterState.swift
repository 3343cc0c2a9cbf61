import ColonyEngine
import ColonyModels
import ColonyRouting
import Foundation

/// Everything the router knows, behind one lock in `RoutedBackend`: members and their
/// reported status, the router's own load accounting, the KV index and the routing policy.
struct RouterState {
    struct Member {
        var member: ClusterMember
        var health = MemberHealth()
        var status: WireStatus?
        /// Requests the router sent there that have not finished, and the blocks they hold.
        var inFlight = 0
        var activeBlocks = 0
        /// Recent mean time between its tokens: a moving average of the mean over each poll.
        var interTokenSeconds = 0.0

        var state: MemberState { health.state }
        var detail: String? { health.detail }
        /// The role it reports (a promoted spare is active before discovery says so).
        var role: ClusterMember.Role { status.flatMap { ClusterMember.Role(rawValue: $0.role) } ?? member.role }
    }

    /// A failure of a ready active, waiting for the cluster to be back to `target` ready actives.
    struct Repair {
        var since: ContinuousClock.Instant
        var target: Int
    }

    var members: [String: Member] = [:]
    var policy: RoutingPolicy
    var repairs: [Repair] = []
    /// Seconds from each failure to the repair that answered it (`colony_mttr_seconds`).
    var mttr: [Double] = []
    /// Requests moved to another worker after theirs failed, and those that could not be.
    var migrations = 0
    var migrationFailures = 0
    /// Seconds each moved request's client waited: from its last token before the failure
    /// to the first from the worker that took over (detection, re-routing, prefill).
    var migrationPauses: [Double] = []
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
        members.values.filter { $0.state == .ready && $0.role == .active }.map { m in
            WorkerLoad(
                id: m.member.id, inFlight: m.inFlight, activeBlocks: m.activeBlocks,
                reported: Int((m.status?.running ?? 0) + (m.status?.waiting ?? 0)), capacity: Int(m.status?.maxBatch ?? 0),
                interTokenSeconds: m.interTokenSeconds)
        }
    }

    /// Each known member's state and role, by id ("w1 dead, w2 ready active"), or "none
    /// known": why nothing could be routed, for the error a client gets.
    var roster: String {
        let listed = members.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value.state.rawValue) \($0.value.role.rawValue)" }
        return listed.isEmpty ? "none known" : listed.joined(separator: ", ")
    }

    /// Routes a request and charges the chosen worker with it (`blocks` KV blocks); nil when
    /// no worker may take it now (under `score`: it waits its turn).
    mutating func route(_ request: RouteRequest, blocks: Int, now: Date) -> RoutingDecision? {
        guard let d = policy.route(request, workers: routable, index: index, now: now) else { return nil }
        members[d.worker]?.inFlight += 1
        members[d.worker]?.activeBlocks += blocks
        decisions["\((request.strategy ?? policy.strategy).rawValue)|\(d.reason.rawValue)", default: 0] += 1
        return d
    }

    /// Gives back what `route` charged (and blocks grown since): on every way a request ends.
    mutating func release(_ worker: String, blocks: Int) {
        members[worker]?.inFlight -= 1
        members[worker]?.activeBlocks -= blocks
    }

    /// Ready actives: what a repair waits for.
    var readyActives: Int { members.values.filter { $0.state == .ready && $0.role == .active }.count }

    /// A member answered with `status`: it is ready (or draining) again, and a repair it
    /// completes is timed. Returns true when that brought it back from suspect or dead.
    @discardableResult
    mutating func heard(_ worker: String, _ status: WireStatus, now: ContinuousClock.Instant) -> Bool {
        guard var m = members[worker] else { return false }
        if let old = m.status, old.pid != status.pid { index.remove(worker) }  // a new process: its cache is new
        if let old = m.status, old.pid == status.pid, status.interTokenCount > old.interTokenCount {
            let recent = (status.interTokenSecondsSum - old.interTokenSecondsSum) / Double(status.interTokenCount - old.interTokenCount)
            m.interTokenSeconds = m.interTokenSeconds == 0 ? recent : 0.7 * m.interTokenSeconds + 0.3 * recent
        }
        m.status = status
        let recovered = m.health.heard(at: now, draining: status.state == MemberState.draining.rawValue)
        members[worker] = m
        completeRepairs(now: now)
        return recovered
    }

    /// Takes a member out of routing and out of the KV index the moment something it should
    /// have done fails; it rejoins when it answers again. A failed ready active starts a repair.
    mutating func markSuspect(_ worker: String, _ why: String, now: ContinuousClock.Instant = .now) {
        guard var m = members[worker] else { return }
        let wasServing = m.state == .ready && m.role == .active
        guard m.health.failed(why, at: now) else { return }
        members[worker] = m
        index.remove(worker)
        if wasServing { repairs.append(Repair(since: m.health.failedAt ?? now, target: readyActives + 1)) }
    }

    /// Marks suspects silent for `deadAfter` dead; returns the actives among them that had
    /// served (whose places spares take).
    mutating func expire(now: ContinuousClock.Instant, deadAfter: Duration) -> [String] {
        var lost: [String] = []
        for (id, var m) in members where m.health.expire(at: now, deadAfter: deadAfter) {
            members[id] = m
            if m.role == .active, m.health.lastHeard != nil { lost.append(id) }
        }
        return lost.sorted()
    }

    /// A ready spare to promote, if there is one.
    var readySpare: String? {
        members.values.filter { $0.state == .ready && $0.role == .spare }.map(\.member.id).min()
    }

    private mutating func completeRepairs(now: ContinuousClock.Instant) {
        let ready = readyActives
        repairs.removeAll { r in
            guard ready >= r.target else { return false }
            mttr.append((now - r.since).seconds)
            return true
        }
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
                s.capacity = Int(st.maxBatch)
            }
            s.interTokenSeconds = m.interTokenSeconds
            s.detail = m.detail
            return s
        }
    }
}
