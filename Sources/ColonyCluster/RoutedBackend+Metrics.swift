import ColonyRouting

extension RoutedBackend {
    /// The router's own metrics in Prometheus' text format, appended to the server's
    /// `/metrics`: queue depth (what autoscaling reads), per-worker load and KV use as the
    /// router sees them, routing decisions by policy and reason, and KV event gaps.
    public var prometheusText: String {
        let (queued, members, decisions, gaps) = state.withLock { s in
            (s.queued, s.members.values.sorted { $0.member.id < $1.member.id }, s.decisions, s.kvGaps)
        }
        var out = ""
        func family(_ name: String, _ type: String, _ help: String, _ samples: [(String, Int)]) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for (labels, value) in samples { out += "\(name)\(labels) \(value)\n" }
        }
        let waiting = members.reduce(queued) { $0 + Int($1.status?.waiting ?? 0) }
        family(
            "colony_router_queue_depth", "gauge", "Requests waiting at the router for a worker plus those waiting in workers.",
            [("", waiting)])
        func perWorker(_ value: (RouterState.Member) -> Int) -> [(String, Int)] {
            members.map { ("{worker=\"\($0.member.id)\",state=\"\($0.state.rawValue)\"}", value($0)) }
        }
        family("colony_router_worker_in_flight", "gauge", "Requests the router has in flight on each worker.", perWorker(\.inFlight))
        family("colony_router_worker_active_blocks", "gauge", "KV blocks the router charges to each worker.", perWorker(\.activeBlocks))
        family(
            "colony_router_worker_running", "gauge", "Requests running on each worker, as it reports.",
            perWorker { Int($0.status?.running ?? 0) })
        family(
            "colony_router_worker_waiting", "gauge", "Requests waiting in each worker, as it reports.",
            perWorker { Int($0.status?.waiting ?? 0) })
        family(
            "colony_router_worker_kv_blocks_used", "gauge", "KV blocks in use on each worker, as it reports.",
            perWorker { Int($0.status?.kvBlocksUsed ?? 0) })
        family(
            "colony_router_worker_kv_blocks_total", "gauge", "KV blocks each worker has.", perWorker { Int($0.status?.kvBlocksTotal ?? 0) })
        family(
            "colony_router_decisions_total", "counter", "Routing decisions by policy and reason.",
            decisions.sorted { $0.key < $1.key }.map { key, n in
                let parts = key.split(separator: "|", maxSplits: 1).map(String.init)
                return ("{policy=\"\(parts[0])\",reason=\"\(parts[1])\"}", n)
            })
        family(
            "colony_router_kv_event_gaps_total", "counter", "Gaps in a worker's KV events (each answered by a replay or a dump).",
            gaps.sorted { $0.key < $1.key }.map { ("{worker=\"\($0.key)\"}", $0.value) })
        return out
    }
}
