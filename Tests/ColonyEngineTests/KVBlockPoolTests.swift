import ColonyEngine
import Testing

@Suite("KV block pool")
struct KVBlockPoolTests {
    static let tokens = Array(10..<22)  // three blocks of 4
    static let hashes = PrefixHash.blocks(of: tokens, blockSize: 4)

    @Test("allocation returns nil when the pool is empty, and release refills it")
    func allocation() {
        let pool = KVBlockPool(blockCount: 3, blockSize: 4)
        let got = (0..<3).compactMap { _ in pool.allocate() }
        #expect(got.count == 3 && Set(got).count == 3)
        #expect(pool.allocate() == nil)
        #expect(pool.allocate(1) == nil)
        pool.release([got[0]])
        #expect(pool.availableBlocks == 1)
        #expect(pool.allocate() == got[0])
    }

    @Test("full prefix blocks are shared by reference count and survive until evicted")
    func sharing() {
        let pool = KVBlockPool(blockCount: 6, blockSize: 4)
        let h = Self.hashes
        let a = pool.allocate(3)!
        for i in 0..<3 { pool.register(a[i], hash: h[i], parent: i > 0 ? h[i - 1] : nil) }
        let b = pool.matchPrefix(h[..<2], queried: 9)
        #expect(b == Array(a.prefix(2)))
        #expect(pool.references(of: a[0]) == 2)
        pool.release(a)
        #expect(pool.references(of: a[0]) == 1)
        #expect(pool.references(of: a[2]) == 0)
        pool.release(b)
        #expect(pool.availableBlocks == 6 && pool.usedBlocks == 0, "cached blocks count as available")
        #expect(pool.matchPrefix(h[...], queried: 12) == a)
        pool.release(a)
        #expect(pool.matchPrefix(PrefixHash.blocks(of: Array(50..<62), blockSize: 4)[...], queried: 12).isEmpty)
        #expect(pool.allocate(6)?.count == 6, "allocating everything evicts the cached blocks")
        #expect(pool.matchPrefix(h[...], queried: 12).isEmpty, "evicted blocks no longer match")
        #expect(pool.hitTokens == 8 + 12 && pool.queriedTokens == 9 + 12 + 12 + 12)
    }

    @Test("stores, evictions and clears are reported as events with the prefix hashes")
    func events() {
        let pool = KVBlockPool(blockCount: 2, blockSize: 4)
        pool.recordsEvents = true
        let h = Self.hashes
        let a = pool.allocate(2)!
        pool.register(a[0], hash: h[0], parent: nil)
        pool.register(a[1], hash: h[1], parent: h[0])
        pool.release(a)
        _ = pool.allocate()  // evicts the least recently used: the first released
        pool.clearPrefixCache()
        #expect(
            pool.drainEvents() == [
                .stored(hashes: [h[0]], parent: nil, blockSize: 4),
                .stored(hashes: [h[1]], parent: h[0], blockSize: 4),
                .removed([h[0]]),
                .cleared,
            ])
        #expect(pool.drainEvents().isEmpty)
        #expect(pool.matchPrefix(h[...], queried: 8).isEmpty)
    }

    @Test("prefix hashes chain over blocks and change with the salt")
    func prefixHash() {
        let h = Self.hashes
        #expect(h.count == 3)
        #expect(h[1] == h[0].appending(Self.tokens[4..<8]))
        #expect(PrefixHash.blocks(of: Array(Self.tokens.prefix(11)), blockSize: 4) == Array(h.prefix(2)), "a partial block has no hash")
        #expect(PrefixHash.blocks(of: Self.tokens, blockSize: 4, salt: "v2") != h)
        #expect(
            PrefixHash.blocks(of: Self.tokens, blockSize: 4, salt: "v2") == PrefixHash.blocks(of: Self.tokens, blockSize: 4, salt: "v2"))
        // FNV-1a of the bytes of token 10, 11, 12, 13 (little-endian u32) from the standard offset basis.
        var fnv: UInt64 = 0xcbf2_9ce4_8422_2325
        for t in 10..<14 {
            for byte in withUnsafeBytes(of: UInt32(t).littleEndian, Array.init) { fnv = (fnv ^ UInt64(byte)) &* 0x100_0000_01b3 }
        }
        #expect(h[0].value == fnv)
    }
}
