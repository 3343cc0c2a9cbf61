import ColonyEngine
import ColonyModels
import Foundation
import Testing

/// The scheduler alone: no model, hand-made sampled tokens (as vLLM's
/// `tests/v1/core/test_scheduler.py` drives its scheduler).
@Suite("Scheduler")
struct SchedulerTests {
    static func make(
        blocks: Int = 64, blockSize: Int = 4, budget: Int = 256, maxBatch: Int = 16,
        policy: any SchedulingPolicy = FirstComeFirstServed()
    ) -> Scheduler {
        var c = EngineConfiguration()
        c.kvBlocks = blocks
        c.blockSize = blockSize
        c.tokenBudget = budget
        c.maxBatch = maxBatch
        c.policy = policy
        return Scheduler(configuration: c, pool: KVBlockPool(blockCount: blocks, blockSize: blockSize))
    }

    static func request(_ id: String, _ prompt: [Int], priority: Int = 0, arrival: Double = 0, salt: String? = nil) -> EngineRequest {
        EngineRequest(id: id, promptTokens: prompt, priority: priority, arrival: Date(timeIntervalSince1970: arrival), cacheSalt: salt)
    }

    /// Feeds every sampling chunk the token 7 (a stand-in for a model) and returns the plan.
    @discardableResult
    static func step(_ s: Scheduler) -> SchedulerOutput {
        let plan = s.schedule()
        s.update(plan, sampled: Dictionary(uniqueKeysWithValues: plan.chunks.filter(\.samples).map { ($0.requestID, 7) }))
        return plan
    }

    @Test("new requests are admitted whole when the budget allows, each with its own blocks")
    func admission() {
        let s = Self.make()
        s.add(Self.request("a", Array(1...5)), sequence: 0)
        s.add(Self.request("b", Array(1...3), arrival: 1), sequence: 1)
        let plan = s.schedule()
        #expect(plan.chunks.map(\.requestID) == ["a", "b"])
        #expect(plan.chunks.map(\.tokens) == [Array(1...5), Array(1...3)])
        #expect(plan.chunks.map(\.samples) == [true, true])
        #expect(plan.chunks[0].table.blocks.count == 2 && plan.chunks[1].table.blocks.count == 1)
        #expect(Set(plan.chunks[0].table.blocks).isDisjoint(with: plan.chunks[1].table.blocks))
        #expect(plan.tokenCount == 8)
        #expect(plan.batch.filter(\.wantsLogits).map(\.sequence) == [0, 1])
        #expect(s.runningCount == 2 && s.waitingCount == 0)
    }

    @Test("a long prompt is prefilled in chunks under the budget; only the last chunk samples")
    func chunkedPrefill() {
        let s = Self.make(budget: 4)
        s.add(Self.request("a", Array(1...10)), sequence: 0)
        var chunks: [SchedulerOutput.Chunk] = []
        for _ in 0..<3 { chunks += Self.step(s).chunks }
        #expect(chunks.map(\.start) == [0, 4, 8])
        #expect(chunks.map(\.tokens.count) == [4, 4, 2])
        #expect(chunks.map(\.samples) == [false, false, true])
        #expect(chunks.map(\.table.length) == [0, 4, 8])
        #expect(s.tokens(of: "a") == Array(1...10) + [7])
        // Then one token a step: the sampled one.
        let next = Self.step(s).chunks
        #expect(next.map(\.tokens) == [[7]] && next[0].start == 10)
    }

    @Test("decoding requests come first; new ones get what is left of the budget and the batch")
    func budget() {
        let s = Self.make(budget: 6, maxBatch: 3)
        s.add(Self.request("a", [1, 2]), sequence: 0)
        Self.step(s)
        for (i, id) in ["b", "c", "d"].enumerated() { s.add(Self.request(id, Array(1...4), arrival: Double(i + 1)), sequence: i + 1) }
        let plan = s.schedule()
        #expect(plan.chunks.map(\.requestID) == ["a", "b", "c"], "max batch 3")
        #expect(plan.chunks.map(\.tokens.count) == [1, 4, 1], "a decodes 1, b takes 4, c the last 1 of the budget")
        #expect(plan.tokenCount == 6)
        #expect(s.waitingIDs == ["d"])
    }

    @Test("out of blocks, the last request in policy order is preempted and later recomputed")
    func preemption() {
        // 4 blocks of 2 positions: two requests of 3 tokens take 2 blocks each.
        let s = Self.make(blocks: 4, blockSize: 2, policy: PriorityFirst())
        s.add(Self.request("low", [1, 2, 3], priority: 0), sequence: 0)
        s.add(Self.request("high", [4, 5, 6], priority: 1, arrival: 1), sequence: 1)
        let first = Self.step(s)
        #expect(first.chunks.map(\.requestID) == ["high", "low"])
        Self.step(s)  // position 3 still fits the two blocks of each
        // Both now hold 5 tokens; position 4 needs a third block each, and the pool is empty.
        let second = Self.step(s)
        #expect(second.preempted == ["low"])
        #expect(second.chunks.map(\.requestID) == ["high"])
        #expect(s.preemptions == 1 && s.waitingIDs == ["low"])
        s.remove("high")
        // Recomputed from scratch, with the token it had sampled before.
        let third = Self.step(s)
        #expect(third.chunks.map(\.requestID) == ["low"])
        #expect(third.chunks[0].tokens == [1, 2, 3, 7, 7] && third.chunks[0].start == 0)
    }

    @Test("a request alone that can never get a block ends with context_full")
    func neverFits() {
        let s = Self.make(blocks: 2, blockSize: 2)
        s.add(Self.request("a", [1, 2, 3]), sequence: 0)
        Self.step(s)
        Self.step(s)  // positions 0...3 fill both blocks
        let plan = s.schedule()
        #expect(plan.chunks.isEmpty)
        #expect(plan.finished == [.init(requestID: "a", reason: .contextFull, cachedPromptTokens: 0)])
        #expect(s.isIdle && s.pool.usedBlocks == 0)
    }

    @Test("a cached prefix is reused block by block, never the block of the last prompt token")
    func prefixHits() {
        let s = Self.make()
        let shared = Array(1...8)
        s.add(Self.request("a", shared + [9]), sequence: 0)
        let a = Self.step(s).chunks[0].table.blocks
        s.remove("a")
        // The same 8 tokens then more: the two full blocks come from the cache.
        s.add(Self.request("b", shared + [20, 21]), sequence: 1)
        let b = Self.step(s).chunks[0]
        #expect(b.start == 8 && b.tokens == [20, 21])
        #expect(Array(b.table.blocks.prefix(2)) == Array(a.prefix(2)))
        #expect(s.pool.references(of: a[0]) == 1)
        // A prompt that is exactly the cached prefix recomputes its last block.
        s.add(Self.request("c", shared), sequence: 2)
        let c = Self.step(s).chunks.first { $0.requestID == "c" }!
        #expect(c.start == 4 && c.tokens == [5, 6, 7, 8])
        #expect(s.pool.hitTokens == 8 + 4)
    }

    @Test("requests with another cache salt never share blocks")
    func salt() {
        let s = Self.make()
        s.add(Self.request("a", Array(1...9), salt: "v1"), sequence: 0)
        Self.step(s)
        s.remove("a")
        s.add(Self.request("b", Array(1...9), salt: "v2"), sequence: 1)
        #expect(Self.step(s).chunks[0].start == 0)
        s.add(Self.request("c", Array(1...9), salt: "v1"), sequence: 2)
        #expect(Self.step(s).chunks.first { $0.requestID == "c" }!.start == 8)
    }

    @Test("cancelling frees the blocks of a running request and drops a waiting one")
    func cancellation() {
        let s = Self.make(maxBatch: 1)
        s.add(Self.request("a", Array(1...6)), sequence: 0)
        s.add(Self.request("b", Array(1...6), arrival: 1), sequence: 1)
        Self.step(s)
        #expect(s.pool.usedBlocks == 2 && s.waitingIDs == ["b"])
        #expect(s.remove("b") == 0)
        #expect(s.remove("a") == 0)
        #expect(s.remove("a") == nil, "unknown ids are ignored")
        #expect(s.isIdle && s.pool.usedBlocks == 0)
        #expect(s.schedule().chunks.isEmpty)
    }

    @Test("the policy orders admission: priority first, arrival among equals")
    func policyOrder() {
        let s = Self.make(policy: PriorityFirst())
        for (i, p) in [0, 5, 1, 5].enumerated() { s.add(Self.request("r\(i)", [5], priority: p, arrival: Double(i)), sequence: i) }
        #expect(s.waitingIDs == ["r1", "r3", "r2", "r0"])
        #expect(FirstComeFirstServed().precedes(Self.request("a", [1]), Self.request("b", [1], arrival: 1)))
    }
}
