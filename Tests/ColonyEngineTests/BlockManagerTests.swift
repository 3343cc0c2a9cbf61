@testable import ColonyEngine
import ColonyModels
import Testing

@Suite("Block manager")
struct BlockManagerTests {
    static func manager(blocks: Int = 6) throws -> BlockManager {
        let (model, _) = try Tiny.load()
        return BlockManager(cache: KVCache(config: model.config, blockCount: blocks, blockSize: 4))
    }

    @Test("allocation returns nil when the pool is empty, and release refills it")
    func allocation() throws {
        let m = try Self.manager(blocks: 3)
        let got = (0..<3).compactMap { _ in m.allocate() }
        #expect(got.count == 3 && Set(got).count == 3)
        #expect(m.allocate() == nil)
        m.release([got[0]])
        #expect(m.availableBlocks == 1)
        #expect(m.allocate() == got[0])
    }

    @Test("full prefix blocks are shared by reference count and survive until evicted")
    func sharing() throws {
        let m = try Self.manager(blocks: 6)
        let tokens = Array(10..<22) // three blocks of 4
        let a = (0..<3).compactMap { _ in m.allocate() }
        for i in 0..<3 { m.registerFullBlock(a, index: i, tokens: tokens) }
        // A second sequence with the same first 9 tokens matches two full blocks (limit 9).
        let b = m.matchPrefix(tokens, limit: 9)
        #expect(b == Array(a.prefix(2)))
        #expect(m.references(of: a[0]) == 2)
        m.release(a)
        #expect(m.references(of: a[0]) == 1)
        #expect(m.references(of: a[2]) == 0)
        m.release(b)
        // All three stay cached (evictable) and count as available.
        #expect(m.availableBlocks == 6 && m.usedBlocks == 0)
        #expect(m.matchPrefix(tokens, limit: 12) == a)
        m.release(a)
        // A different prefix does not match; allocating everything evicts the cached blocks, oldest first.
        #expect(m.matchPrefix(Array(50..<62), limit: 12).isEmpty)
        let all = (0..<6).compactMap { _ in m.allocate() }
        #expect(all.count == 6)
        #expect(m.matchPrefix(tokens, limit: 12).isEmpty, "evicted blocks no longer match")
    }
}
