import ColonyEngine
import Foundation
import Synchronization

/// Request outcomes counted by the server, rendered with the engine's gauges and
/// histograms in Prometheus' text format.
final class ServerMetrics: Sendable {
    private let outcomes = Mutex<[String: Int]>([:])
    private let started = Date()

    func count(_ outcome: String) { outcomes.withLock { $0[outcome, default: 0] += 1 } }

    func render(_ s: EngineStats) -> String {
        var out = ""
        func metric(_ name: String, _ type: String, _ help: String, _ samples: [(String, Double)]) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for (labels, value) in samples { out += "\(name)\(labels) \(Self.format(value))\n" }
        }
        let counts = outcomes.withLock { $0 }
        metric(
            "colony_requests_total", "counter", "HTTP generation requests by outcome.",
            counts.sorted { $0.key < $1.key }.map { ("{outcome=\"\($0.key)\"}", Double($0.value)) })
        metric(
            "colony_engine_finished_total", "counter", "Engine requests finished, by finish reason.",
            s.finished.sorted { $0.key < $1.key }.map { ("{reason=\"\($0.key)\"}", Double($0.value)) })
        metric("colony_prompt_tokens_total", "counter", "Prompt tokens of finished requests.", [("", Double(s.promptTokens))])
        metric("colony_generated_tokens_total", "counter", "Tokens generated.", [("", Double(s.generatedTokens))])
        let uptime = Date().timeIntervalSince(started)
        metric(
            "colony_generated_tokens_per_second", "gauge", "Tokens generated per second since start.",
            [("", uptime > 0 ? Double(s.generatedTokens) / uptime : 0)])
        metric("colony_queue_depth", "gauge", "Requests waiting for admission.", [("", Double(s.waiting))])
        metric("colony_running_requests", "gauge", "Requests in the running batch.", [("", Double(s.running))])
        metric(
            "colony_kv_blocks", "gauge", "KV cache blocks by state.",
            [("{state=\"used\"}", Double(s.kvBlocksUsed)), ("{state=\"free\"}", Double(s.kvBlocksFree))])
        metric(
            "colony_prefix_cache_hit_rate", "gauge", "Share of prompt tokens served from the prefix cache.", [("", s.prefixCacheHitRate)])
        metric("colony_preemptions_total", "counter", "Requests preempted for lack of KV blocks.", [("", Double(s.preemptions))])
        histogram(&out, "colony_time_to_first_token_seconds", "Time from arrival to the first token.", s.timeToFirstToken)
        histogram(&out, "colony_inter_token_latency_seconds", "Time between consecutive tokens of a request.", s.interTokenLatency)
        return out
    }

    private func histogram(_ out: inout String, _ name: String, _ help: String, _ h: LatencyHistogram) {
        out += "# HELP \(name) \(help)\n# TYPE \(name) histogram\n"
        var cumulative = 0
        for (bound, c) in zip(LatencyHistogram.bounds, h.counts) {
            cumulative += c
            out += "\(name)_bucket{le=\"\(Self.format(bound))\"} \(cumulative)\n"
        }
        out += "\(name)_bucket{le=\"+Inf\"} \(h.count)\n\(name)_sum \(Self.format(h.sum))\n\(name)_count \(h.count)\n"
    }

    private static func format(_ v: Double) -> String {
        v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : String(v)
    }
}
