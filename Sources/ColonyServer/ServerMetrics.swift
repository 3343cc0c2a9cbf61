import ColonyEngine
import CoreMetrics
import Foundation
import Prometheus
import Synchronization

/// The server's metrics, recorded through swift-metrics and exported in Prometheus' text
/// format by swift-prometheus, from a registry of this server's own (so servers in one
/// process never mix their counts).
///
/// Request outcomes and latencies are recorded as they happen; the backend's gauges are
/// read at each scrape, and its cumulative counts (finish reasons, tokens, preemptions)
/// advance the counters by what changed since the last scrape.
final class ServerMetrics: Sendable {
    private let registry: PrometheusCollectorRegistry
    private let factory: PrometheusMetricsFactory
    private let started = Date()
    private let last = Mutex(EngineStats())
    /// The last value of each backend counter, by name and labels.
    private let lastTotals = Mutex<[String: Double]>([:])
    private let timeToFirstToken: CoreMetrics.Timer
    private let interTokenLatency: CoreMetrics.Timer

    init() {
        let registry = PrometheusCollectorRegistry()
        self.registry = registry
        let factory = PrometheusMetricsFactory(registry: registry)
        self.factory = factory
        let bounds = LatencyHistogram.bounds.map { Duration.nanoseconds(Int64($0 * 1e9)) }
        func timer(_ name: String, _ help: String) -> CoreMetrics.Timer {
            CoreMetrics.Timer(
                label: name, dimensions: [],
                handler: registry.makeDurationHistogram(descriptor: Self.descriptor(name, help), buckets: bounds),
                factory: factory)
        }
        timeToFirstToken = timer("colony_time_to_first_token_seconds", "Time from arrival to the first token.")
        interTokenLatency = timer("colony_inter_token_latency_seconds", "Time between consecutive tokens of a request.")
        // Families shown from the first scrape, before anything happened.
        _ = counter("colony_requests_total", "HTTP generation requests by outcome.", [("outcome", "ok")])
    }

    /// Counts one HTTP generation request by outcome (`ok`, `rejected`, …).
    func count(_ outcome: String) {
        counter("colony_requests_total", "HTTP generation requests by outcome.", [("outcome", outcome)]).increment()
    }

    /// `stream`, with its time to first token and gaps between tokens recorded as they pass.
    func timed(_ stream: AsyncThrowingStream<EngineEvent, Error>, since arrival: Date) -> AsyncThrowingStream<EngineEvent, Error> {
        let (out, continuation) = AsyncThrowingStream<EngineEvent, Error>.makeStream()
        let (ttft, itl) = (timeToFirstToken, interTokenLatency)
        let relay = Task {
            var previous: Date?
            do {
                for try await event in stream {
                    if case .token = event {
                        let now = Date()
                        if let previous {
                            itl.recordSeconds(now.timeIntervalSince(previous))
                        } else {
                            ttft.recordSeconds(now.timeIntervalSince(arrival))
                        }
                        previous = now
                    }
                    continuation.yield(event)
                }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        // A client that goes away drops `out`; the relay then drops `stream`, which cancels the request.
        continuation.onTermination = { termination in if case .cancelled = termination { relay.cancel() } }
        return out
    }

    /// Everything in Prometheus' text format, after bringing the backend's figures up to `s`
    /// and its own `samples`.
    func render(_ s: EngineStats, _ samples: [MetricSample] = []) -> String {
        record(samples)
        let before = last.withLock { previous in
            defer { previous = s }
            return previous
        }
        for (reason, n) in s.finished where n > before.finished[reason, default: 0] {
            counter("colony_engine_finished_total", "Engine requests finished, by finish reason.", [("reason", reason)])
                .increment(by: Int64(n - before.finished[reason, default: 0]))
        }
        func advance(_ name: String, _ help: String, _ now: Int, _ then: Int) {
            let c = counter(name, help)
            if now > then { c.increment(by: Int64(now - then)) }
        }
        advance("colony_prompt_tokens_total", "Prompt tokens of finished requests.", s.promptTokens, before.promptTokens)
        advance("colony_generated_tokens_total", "Tokens generated.", s.generatedTokens, before.generatedTokens)
        advance("colony_preemptions_total", "Requests preempted for lack of KV blocks.", s.preemptions, before.preemptions)
        let uptime = Date().timeIntervalSince(started)
        gauge("colony_generated_tokens_per_second", "Tokens generated per second since start.")
            .record(uptime > 0 ? Double(s.generatedTokens) / uptime : 0)
        gauge("colony_queue_depth", "Requests waiting for admission.").record(Double(s.waiting))
        gauge("colony_running_requests", "Requests in the running batch.").record(Double(s.running))
        gauge("colony_kv_blocks", "KV cache blocks by state.", [("state", "used")]).record(Double(s.kvBlocksUsed))
        gauge("colony_kv_blocks", "KV cache blocks by state.", [("state", "free")]).record(Double(s.kvBlocksFree))
        gauge("colony_prefix_cache_hit_rate", "Share of prompt tokens served from the prefix cache.").record(s.prefixCacheHitRate)
        return registry.emitToString()
    }

    private func record(_ samples: [MetricSample]) {
        for sample in samples {
            let labels = sample.labels.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
            switch sample.kind {
            case .gauge: gauge(sample.name, sample.help, labels).record(sample.value)
            case .counter:
                let key = sample.name + labels.map { "|\($0.0)=\($0.1)" }.joined()
                let before = lastTotals.withLock { totals in
                    defer { totals[key] = sample.value }
                    return totals[key] ?? 0
                }
                let c = counter(sample.name, sample.help, labels)
                if sample.value > before { c.increment(by: Int64(sample.value - before)) }
            case .histogram(let bounds, let observations):
                let seen = lastTotals.withLock { totals in
                    defer { totals[sample.name] = Double(observations.count) }
                    return Int(totals[sample.name] ?? 0)
                }
                let handler = registry.makeDurationHistogram(
                    descriptor: Self.descriptor(sample.name, sample.help), buckets: bounds.map { Duration.nanoseconds(Int64($0 * 1e9)) })
                let timer = CoreMetrics.Timer(label: sample.name, dimensions: [], handler: handler, factory: factory)
                for seconds in observations.dropFirst(seen) { timer.recordSeconds(seconds) }
            }
        }
    }

    private func counter(_ name: String, _ help: String, _ labels: [(String, String)] = []) -> CoreMetrics.Counter {
        let descriptor = Self.descriptor(name, help)
        let handler =
            labels.isEmpty ? registry.makeCounter(descriptor: descriptor) : registry.makeCounter(descriptor: descriptor, labels: labels)
        return CoreMetrics.Counter(label: name, dimensions: labels, handler: handler, factory: factory)
    }

    private func gauge(_ name: String, _ help: String, _ labels: [(String, String)] = []) -> CoreMetrics.Recorder {
        let descriptor = Self.descriptor(name, help)
        let handler =
            labels.isEmpty ? registry.makeGauge(descriptor: descriptor) : registry.makeGauge(descriptor: descriptor, labels: labels)
        return CoreMetrics.Recorder(label: name, dimensions: labels, aggregate: false, handler: handler)
    }

    private static func descriptor(_ name: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }
}
