import ColonyModels
import Foundation
import Logging

/// The scheduler and its step: everything the engine thread does, and only it.
///
/// Each step builds one flat batch under the token budget: first one token for every
/// running request that is decoding (and the next chunk of those still prefilling), in
/// policy order; then new requests, as long as blocks allow. When a running request
/// cannot get a block, the last request in policy order is preempted: its blocks are
/// freed and it goes back to the queue with its output so far, to be recomputed — its
/// stream sees no token twice.
final class EngineCore {
    let model: LlamaModel
    let tokenizer: Tokenizer
    let configuration: EngineConfiguration
    let cache: KVCache
    let blocks: BlockManager
    private(set) var waiting: [SequenceState] = []
    private(set) var running: [SequenceState] = []
    private(set) var stats = EngineStats()
    private let defaultStops: Set<Int>
    private let logger = Logger(label: "colony.engine")

    init(model: LlamaModel, tokenizer: Tokenizer, configuration: EngineConfiguration) {
        self.model = model
        self.tokenizer = tokenizer
        self.configuration = configuration
        cache = KVCache(config: model.config, blockCount: configuration.kvBlocks, blockSize: configuration.blockSize)
        blocks = BlockManager(cache: cache)
        defaultStops = tokenizer.endOfTurnTokens
    }

    var isIdle: Bool { waiting.isEmpty && running.isEmpty }

    func enqueue(_ sequence: SequenceState) {
        let index = waiting.firstIndex { configuration.policy.precedes(sequence.request, $0.request) } ?? waiting.count
        waiting.insert(sequence, at: index)
    }

    func cancel(id: String) {
        if let s = (running + waiting).first(where: { $0.request.id == id }) { finish(s, .cancelled) }
    }

    /// Finishes every request (shutdown).
    func cancelAll() { for s in running + waiting { finish(s, .cancelled) } }

    /// Runs one step; returns false when there was nothing to do.
    @discardableResult
    func step() -> Bool {
        var batch: [BatchToken] = []
        var planned: [(sequence: SequenceState, count: Int)] = []
        var budget = configuration.tokenBudget
        running.sort { configuration.policy.precedes($0.request, $1.request) }

        var i = 0
        while i < running.count, budget > 0 {
            let s = running[i]
            let count = min(s.pending, budget)
            if reserve(s, upTo: s.computed + count) {
                plan(s, count, &batch, &planned)
                budget -= count
                i += 1
            } else if let victim = running.last, victim !== s {
                preempt(victim)
            } else if running.count == 1 {
                finish(s, .contextFull) // alone and still out of blocks: it can never fit
            } else {
                preempt(s)
            }
        }
        while budget > 0, running.count < configuration.maxBatch, let s = waiting.first {
            if !s.admitted {
                // Reuse cached full blocks of the prompt, never the block of its last token:
                // that token must run to produce logits.
                let matched = blocks.matchPrefix(s.tokens, limit: s.tokens.count - 1)
                s.blocks = matched
                s.computed = matched.count * blocks.blockSize
                s.registeredBlocks = matched.count
                if s.generated == 0 { s.cachedPromptTokens = s.computed }
            }
            let count = min(s.pending, budget)
            guard reserve(s, upTo: s.computed + count) else {
                blocks.release(s.blocks) // do not hoard shared blocks while waiting
                s.blocks = []
                s.computed = 0
                s.registeredBlocks = 0
                break
            }
            s.admitted = true
            waiting.removeFirst()
            running.append(s)
            plan(s, count, &batch, &planned)
            budget -= count
        }
        guard !batch.isEmpty else { return false }

        for (s, _) in planned { cache.setBlockTable(s.blocks, cachedLength: s.computed, for: s.slot) }
        let logits: [[Float]]
        do {
            logits = try model.forward(batch, cache: cache)
        } catch {
            // Blocks were reserved and positions checked above: this is a bug, not load.
            logger.error("forward pass failed: \(error)")
            for (s, _) in planned { finish(s, .cancelled) }
            return true
        }
        stats.steps += 1
        var next = logits.makeIterator()
        for (s, count) in planned {
            s.computed += count
            while s.registeredBlocks < s.computed / blocks.blockSize {
                blocks.registerFullBlock(s.blocks, index: s.registeredBlocks, tokens: s.tokens)
                s.registeredBlocks += 1
            }
            if s.computed == s.tokens.count, let row = next.next() { sample(s, row) }
        }
        publishGauges()
        return true
    }

    private func plan(_ s: SequenceState, _ count: Int, _ batch: inout [BatchToken], _ planned: inout [(sequence: SequenceState, count: Int)]) {
        for p in s.computed..<(s.computed + count) {
            batch.append(BatchToken(token: s.tokens[p], position: p, sequence: s.slot, wantsLogits: p == s.tokens.count - 1))
        }
        planned.append((s, count))
    }

    /// Gives `s` blocks for positions `0..<end`; on failure nothing changes.
    private func reserve(_ s: SequenceState, upTo end: Int) -> Bool {
        let needed = (end + blocks.blockSize - 1) / blocks.blockSize - s.blocks.count
        guard needed > 0 else { return true }
        var fresh: [Int32] = []
        for _ in 0..<needed {
            guard let b = blocks.allocate() else { blocks.release(fresh); return false }
            fresh.append(b)
        }
        s.blocks += fresh
        return true
    }

    private func preempt(_ s: SequenceState) {
        blocks.release(s.blocks)
        cache.detach(sequence: s.slot)
        s.blocks = []
        s.computed = 0
        s.registeredBlocks = 0
        s.admitted = false
        running.removeAll { $0 === s }
        stats.preemptions += 1
        enqueue(s)
    }

    private func sample(_ s: SequenceState, _ logits: [Float]) {
        let now = Date()
        let stops = s.request.stopTokens.isEmpty ? defaultStops : s.request.stopTokens
        var logits = logits
        if s.generated < s.request.minTokens { for t in stops where t < logits.count { logits[t] = -.infinity } }
        if s.request.ignoreEOS { for t in defaultStops where t < logits.count { logits[t] = -.infinity } }
        let token: Int
        if var recognizer = s.recognizer {
            token = s.sampler.sample(constrained(logits, recognizer), history: s.tokens)
            _ = recognizer.accept(tokenizer.bytes(of: token))
            s.recognizer = recognizer
        } else {
            token = s.sampler.sample(logits, history: s.tokens)
        }
        if s.generated == 0 {
            stats.timeToFirstToken.observe(now.timeIntervalSince(s.request.arrival))
        } else if let last = s.lastTokenAt {
            stats.interTokenLatency.observe(now.timeIntervalSince(last))
        }
        s.lastTokenAt = now
        if s.recognizer == nil, stops.contains(token) { finish(s, .stop); return }

        s.tokens.append(token)
        s.generated += 1
        stats.generatedTokens += 1
        var (text, stopped) = s.stopMatcher.append(s.detokenizer.append(token))
        var reason: FinishReason? = stopped ? .stop : nil
        if reason == nil {
            if s.recognizer?.isComplete == true { reason = .stop }
            else if s.generated >= s.request.maxTokens { reason = .length }
            else if s.tokens.count >= min(model.config.contextLength, cache.capacity) { reason = .contextFull }
        }
        if reason != nil, !stopped { text += s.stopMatcher.append(s.detokenizer.flush()).text + s.stopMatcher.flush() }
        s.continuation.yield(.token(id: token, text: text))
        if let reason { finish(s, reason, trailing: "") }
    }

    /// Logits with every token the JSON recognizer would reject set to -∞. The most likely
    /// tokens are tried first; the whole vocabulary only when none of them fits.
    private func constrained(_ logits: [Float], _ recognizer: JSONRecognizer) -> [Float] {
        var masked = [Float](repeating: -.infinity, count: logits.count)
        func fits(_ id: Int) -> Bool {
            let bytes = tokenizer.bytes(of: id)
            guard !bytes.isEmpty, !tokenizer.isControl(id) else { return false }
            var r = recognizer
            return r.accept(bytes)
        }
        for (id, logit) in Sampler.topK(logits, 64) where fits(id) { masked[id] = logit }
        if !masked.contains(where: { $0 > -.infinity }) {
            for id in logits.indices where fits(id) { masked[id] = logits[id] }
        }
        return masked
    }

    private func finish(_ s: SequenceState, _ reason: FinishReason, trailing: String? = nil) {
        var tail = trailing ?? ""
        if trailing == nil, reason != .cancelled { tail = s.stopMatcher.append(s.detokenizer.flush()).text + s.stopMatcher.flush() }
        blocks.release(s.blocks)
        s.blocks = []
        cache.detach(sequence: s.slot)
        running.removeAll { $0 === s }
        waiting.removeAll { $0 === s }
        stats.finished[reason.rawValue, default: 0] += 1
        stats.promptTokens += s.request.promptTokens.count
        let usage = Usage(promptTokens: s.request.promptTokens.count, completionTokens: s.generated,
                          cachedPromptTokens: s.cachedPromptTokens)
        s.continuation.yield(.finished(reason, usage, trailingText: tail))
        s.continuation.finish()
        publishGauges()
    }

    private func publishGauges() {
        stats.waiting = waiting.count
        stats.running = running.count
        stats.kvBlocksUsed = blocks.usedBlocks
        stats.kvBlocksFree = blocks.availableBlocks
        stats.prefixCacheHitRate = blocks.hitRate
    }
}
