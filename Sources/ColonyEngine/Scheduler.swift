import ColonyModels

/// Decides, step by step, which requests run how many tokens and which KV blocks they get:
/// the engine's policy, with no model and no I/O (tests drive it with hand-made sampled
/// tokens, as vLLM's scheduler tests do).
///
/// Each step fills the token budget in policy order: first every running request (one
/// token when decoding, the next chunk when still prefilling), then new requests, as long
/// as blocks allow. A new request first takes the cached blocks of its longest cached
/// prefix. When a running request cannot get a block, the last request in policy order is
/// preempted: its blocks are freed and it goes back to the queue with its output so far,
/// to be recomputed.
///
/// ```swift
/// let scheduler = Scheduler(configuration: config, pool: KVBlockPool(blockCount: 64, blockSize: 16))
/// scheduler.add(request, sequence: 0)
/// let output = scheduler.schedule()           // run output.batch through a model…
/// scheduler.update(output, sampled: ["a": 42]) // …then hand back the sampled tokens
/// ```
public final class Scheduler {
    public let configuration: EngineConfiguration
    public let pool: KVBlockPool
    private var waiting: [Entry] = []
    private var running: [Entry] = []
    private var byID: [String: Entry] = [:]
    public private(set) var preemptions = 0

    public init(configuration: EngineConfiguration, pool: KVBlockPool) {
        self.configuration = configuration
        self.pool = pool
    }

    public var isIdle: Bool { byID.isEmpty }
    public var waitingCount: Int { waiting.count }
    public var runningCount: Int { running.count }
    /// Ids of the requests waiting, in admission order.
    public var waitingIDs: [String] { waiting.map(\.request.id) }
    /// Ids of the requests running, in the order of the last step.
    public var runningIDs: [String] { running.map(\.request.id) }

    /// Prompt tokens not yet run through the model, over every waiting and running request:
    /// the prefill work queued (what an autoscaler or router weighs, beside queue length).
    public var queuedPrefillTokens: Int {
        (waiting + running).reduce(0) { $0 + max(0, $1.request.promptTokens.count - $1.computed) }
    }

    /// Queues a request; `sequence` is its KV sequence number in the model's batches.
    public func add(_ request: EngineRequest, sequence: Int) {
        // An adapter computes other keys and values from the same tokens: its own chain.
        let root = PrefixHash.root(salts: [configuration.prefixCacheSalt, request.adapter?.name, request.cacheSalt])
        let entry = Entry(request: request, sequence: sequence, root: root)
        byID[request.id] = entry
        enqueue(entry)
    }

    /// Prompt followed by the tokens generated so far (empty for an unknown id).
    public func tokens(of id: String) -> [Int] { byID[id]?.tokens ?? [] }

    /// Removes a request, frees its blocks and returns how many prompt tokens came from the
    /// prefix cache; nil for an unknown id.
    @discardableResult
    public func remove(_ id: String) -> Int? {
        guard let entry = byID.removeValue(forKey: id) else { return nil }
        pool.release(entry.blocks)
        entry.blocks = []
        running.removeAll { $0 === entry }
        waiting.removeAll { $0 === entry }
        return entry.cachedPromptTokens
    }

    /// Plans one step.
    public func schedule() -> SchedulerOutput {
        var output = SchedulerOutput()
        var budget = configuration.tokenBudget
        running.sort { configuration.policy.precedes($0.request, $1.request) }

        var i = 0
        while i < running.count, budget > 0 {
            let s = running[i]
            let count = min(s.pending, budget)
            if reserve(s, upTo: s.computed + count) {
                output.chunks.append(chunk(s, count))
                budget -= count
                i += 1
            } else if let victim = running.last, victim !== s {
                preempt(victim, &output)
            } else if running.count == 1 {
                // Alone and still out of blocks: it can never fit.
                let cached = s.cachedPromptTokens
                remove(s.request.id)
                output.finished.append(.init(requestID: s.request.id, reason: .contextFull, cachedPromptTokens: cached))
            } else {
                preempt(s, &output)
            }
        }
        while budget > 0, running.count < configuration.maxBatch, let s = waiting.first {
            if !s.admitted {
                // Reuse cached full blocks of the prompt, never the block of its last token:
                // that token must run to produce logits.
                let usable = (s.tokens.count - 1) / pool.blockSize
                s.extendHashes(blocks: usable, blockSize: pool.blockSize)
                let matched = pool.matchPrefix(s.hashes[..<usable], queried: s.tokens.count)
                s.blocks = matched
                s.computed = matched.count * pool.blockSize
                s.registeredBlocks = matched.count
                if s.generated == 0 { s.cachedPromptTokens = s.computed }
            }
            let count = min(s.pending, budget)
            guard reserve(s, upTo: s.computed + count) else {
                pool.release(s.blocks)  // do not hoard shared blocks while waiting
                s.blocks = []
                s.computed = 0
                s.registeredBlocks = 0
                break
            }
            s.admitted = true
            waiting.removeFirst()
            running.append(s)
            output.chunks.append(chunk(s, count))
            budget -= count
        }
        return output
    }

    /// Takes a step's results: every chunk's tokens are now cached, and each request that
    /// sampled gets its new token (a request missing from `sampled` finished instead and
    /// must be `remove`d). Full blocks enter the prefix cache.
    public func update(_ output: SchedulerOutput, sampled: [String: Int]) {
        for c in output.chunks {
            guard let s = byID[c.requestID] else { continue }
            s.computed = c.start + c.tokens.count
            let full = s.computed / pool.blockSize
            if s.registeredBlocks < full {
                s.extendHashes(blocks: full, blockSize: pool.blockSize)
                while s.registeredBlocks < full {
                    let index = s.registeredBlocks
                    pool.register(s.blocks[index], hash: s.hashes[index], parent: index > 0 ? s.hashes[index - 1] : nil)
                    s.registeredBlocks += 1
                }
            }
            if c.samples, let token = sampled[c.requestID] {
                s.tokens.append(token)
                s.generated += 1
            }
        }
    }

    // MARK: - Internals

    private func enqueue(_ entry: Entry) {
        let index = waiting.firstIndex { configuration.policy.precedes(entry.request, $0.request) } ?? waiting.count
        waiting.insert(entry, at: index)
    }

    private func chunk(_ s: Entry, _ count: Int) -> SchedulerOutput.Chunk {
        SchedulerOutput.Chunk(
            requestID: s.request.id, sequence: s.sequence, tokens: Array(s.tokens[s.computed..<(s.computed + count)]),
            start: s.computed, table: BlockTable(blocks: s.blocks, length: s.computed),
            samples: s.computed + count == s.tokens.count, adapter: s.request.adapter)
    }

    /// Gives `s` blocks for positions `0..<end`; on failure nothing changes.
    private func reserve(_ s: Entry, upTo end: Int) -> Bool {
        let needed = (end + pool.blockSize - 1) / pool.blockSize - s.blocks.count
        guard needed > 0 else { return true }
        guard let fresh = pool.allocate(needed) else { return false }
        s.blocks += fresh
        return true
    }

    private func preempt(_ s: Entry, _ output: inout SchedulerOutput) {
        pool.release(s.blocks)
        s.blocks = []
        s.computed = 0
        s.registeredBlocks = 0
        s.admitted = false
        running.removeAll { $0 === s }
        preemptions += 1
        output.preempted.append(s.request.id)
        enqueue(s)
    }

    /// A request inside the scheduler: its tokens, its blocks and how many of its tokens
    /// are cached.
    private final class Entry {
        let request: EngineRequest
        let sequence: Int
        let root: PrefixHash
        /// Prompt followed by the tokens generated so far.
        var tokens: [Int]
        /// Tokens whose keys and values are in the cache.
        var computed = 0
        var blocks: [Int32] = []
        /// Prefix hashes of the leading full blocks of `tokens` computed so far.
        var hashes: [PrefixHash] = []
        /// Leading full blocks already registered in the prefix cache.
        var registeredBlocks = 0
        var generated = 0
        var cachedPromptTokens = 0
        var admitted = false

        init(request: EngineRequest, sequence: Int, root: PrefixHash) {
            self.request = request
            self.sequence = sequence
            self.root = root
            tokens = request.promptTokens
        }

        /// Tokens still to run through the model before the next one can be sampled.
        var pending: Int { tokens.count - computed }

        /// Hashes the full blocks of `tokens` up to `blocks` (tokens only grow, so hashes
        /// once computed stay right).
        func extendHashes(blocks: Int, blockSize: Int) {
            while hashes.count < blocks {
                let start = hashes.count * blockSize
                hashes.append((hashes.last ?? root).appending(tokens[start..<(start + blockSize)]))
            }
        }
    }
}
