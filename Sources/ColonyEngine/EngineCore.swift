import ColonyModels
import Foundation
import Logging

/// One engine step, composed the way vLLM v1 composes it: the `Scheduler` plans, the
/// `ModelRunner` runs the plan, the `OutputProcessor` samples and streams, and the
/// scheduler takes the sampled tokens back. `Engine` drives it from its thread;
/// `Generator` drives it inline for one request at a time.
///
/// Not thread-safe: whoever drives it owns it.
public final class EngineCore {
    public let scheduler: Scheduler
    public let runner: any ModelRunner
    public let output: OutputProcessor
    private var nextSequence = 0
    private var steps = 0
    private let logger = Logger(label: "colony.engine")

    public init(runner: any ModelRunner, tokenizer: Tokenizer, configuration: EngineConfiguration) {
        self.runner = runner
        let pool = KVBlockPool(blockCount: configuration.kvBlocks, blockSize: configuration.blockSize)
        scheduler = Scheduler(configuration: configuration, pool: pool)
        output = OutputProcessor(
            tokenizer: tokenizer,
            contextLimit: min(runner.config.contextLength, configuration.kvBlocks * configuration.blockSize))
    }

    public var isIdle: Bool { scheduler.isIdle }

    /// Queues a validated request; its events go to `sink`.
    public func add(_ request: EngineRequest, sink: @escaping (EngineEvent) -> Void) throws(ModelError) {
        try output.add(request, sink: sink)
        scheduler.add(request, sequence: nextSequence)
        nextSequence += 1
    }

    /// Cancels a request; its stream ends with `.finished(.cancelled, …)`.
    public func cancel(_ id: String) {
        if let cached = scheduler.remove(id) { output.finish(id, .cancelled, cachedPromptTokens: cached) }
    }

    /// Cancels every request (shutdown).
    public func cancelAll() {
        for id in scheduler.runningIDs + scheduler.waitingIDs { cancel(id) }
    }

    /// Runs one step; returns false when there was nothing to do.
    @discardableResult
    public func step() -> Bool {
        let plan = scheduler.schedule()
        for f in plan.finished { output.finish(f.requestID, f.reason, cachedPromptTokens: f.cachedPromptTokens) }
        guard !plan.chunks.isEmpty else { return !plan.finished.isEmpty }
        let logits: [[Float]]
        do {
            logits = try runner.execute(plan)
        } catch {
            // Blocks were reserved and positions checked by the scheduler: this is a bug, not load.
            logger.error("forward pass failed: \(error)")
            for c in plan.chunks { cancel(c.requestID) }
            return true
        }
        steps += 1
        var sampled: [String: Int] = [:]
        var ended: [(String, FinishReason)] = []
        var rows = logits.makeIterator()
        for c in plan.chunks where c.samples {
            guard let row = rows.next() else { break }
            let outcome = output.sample(c.requestID, logits: row, history: scheduler.tokens(of: c.requestID))
            if let token = outcome.token { sampled[c.requestID] = token }
            if let reason = outcome.finish { ended.append((c.requestID, reason)) }
        }
        scheduler.update(plan, sampled: sampled)
        for (id, reason) in ended {
            let cached = scheduler.remove(id) ?? 0
            output.finish(id, reason, cachedPromptTokens: cached)
        }
        return true
    }

    /// Queue depth, KV use, counters and latency histograms now.
    public var stats: EngineStats {
        var s = output.stats
        s.steps = steps
        s.preemptions = scheduler.preemptions
        s.waiting = scheduler.waitingCount
        s.running = scheduler.runningCount
        s.queuedPrefillTokens = scheduler.queuedPrefillTokens
        s.kvBlocksUsed = scheduler.pool.usedBlocks
        s.kvBlocksFree = scheduler.pool.availableBlocks
        s.prefixCacheHitRate = scheduler.pool.hitRate
        return s
    }
}
