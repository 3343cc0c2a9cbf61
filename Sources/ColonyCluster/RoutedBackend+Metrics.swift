import ColonyEngine
import ColonyRouting

extension RoutedBackend {
    /// Buckets of `colony_mttr_seconds`: around the 5 s a spare should take, up to the
    /// 90 s the mission allows and beyond.
    static let mttrBounds: [Double] = [0.5, 1, 2, 3, 5, 10, 20, 30, 60, 90, 120, 300]
    static let pauseBounds: [Double] = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 1.5, 2, 3, 5, 10, 30]

    /// The router's own figures for `/metrics`: queue depth (what autoscaling reads),
    /// per-worker load and KV use as the router sees them, each worker's state, routing
    /// decisions by policy and reason, and gaps in workers' KV events.
    public var metricSamples: [MetricSample] {
        let (queued, members, decisions, gaps, mttr, moves, pauses) = state.withLock { s in
            (s.queued, Array(s.members.values), s.decisions, s.kvGaps, s.mttr, (s.migrations, s.migrationFailures), s.migrationPauses)
        }
        var out = [
            MetricSample(
                "colony_router_queue_depth", .gauge, help: "Requests waiting at the router for a worker plus those waiting in workers.",
                value: Double(members.reduce(queued) { $0 + Int($1.status?.waiting ?? 0) }))
        ]
        for m in members {
            let worker = ["worker": m.member.id]
            func gauge(_ name: String, _ help: String, _ value: Int) {
                out.append(MetricSample(name, .gauge, help: help, labels: worker, value: Double(value)))
            }
            gauge("colony_router_worker_in_flight", "Requests the router has in flight on each worker.", m.inFlight)
            gauge("colony_router_worker_active_blocks", "KV blocks the router charges to each worker.", m.activeBlocks)
            gauge("colony_router_worker_running", "Requests running on each worker, as it reports.", Int(m.status?.running ?? 0))
            gauge("colony_router_worker_waiting", "Requests waiting in each worker, as it reports.", Int(m.status?.waiting ?? 0))
            gauge(
                "colony_router_worker_kv_blocks_used", "KV blocks in use on each worker, as it reports.", Int(m.status?.kvBlocksUsed ?? 0))
            gauge("colony_router_worker_kv_blocks_total", "KV blocks each worker has.", Int(m.status?.kvBlocksTotal ?? 0))
            for state in MemberState.allCases {
                out.append(
                    MetricSample(
                        "colony_router_worker_state", .gauge, help: "1 for each worker's current state, 0 for the others.",
                        labels: ["worker": m.member.id, "state": state.rawValue], value: m.state == state ? 1 : 0))
            }
        }
        for (key, n) in decisions {
            let parts = key.split(separator: "|", maxSplits: 1).map(String.init)
            out.append(
                MetricSample(
                    "colony_router_decisions_total", .counter, help: "Routing decisions by policy and reason.",
                    labels: ["policy": parts[0], "reason": parts[1]], value: Double(n)))
        }
        out.append(
            MetricSample(
                "colony_mttr_seconds", .histogram(bounds: Self.mttrBounds, observations: mttr),
                help: "From a worker's failure (its last answer) until the cluster has as many ready active workers again.",
                value: 0))
        out.append(
            MetricSample(
                "colony_router_migration_pause_seconds", .histogram(bounds: Self.pauseBounds, observations: pauses),
                help: "What a moved request's client waited: from its last token before the failure to the next one.",
                value: 0))
        for (outcome, n) in [("moved", moves.0), ("failed", moves.1)] {
            out.append(
                MetricSample(
                    "colony_router_migrations_total", .counter,
                    help: "Requests moved to another worker after theirs failed, and those that could not be.",
                    labels: ["outcome": outcome], value: Double(n)))
        }
        for (worker, n) in gaps {
            out.append(
                MetricSample(
                    "colony_router_kv_event_gaps_total", .counter,
                    help: "Gaps in a worker's KV events, each answered by a replay or a dump.",
                    labels: ["worker": worker], value: Double(n)))
        }
        return out
    }
}
