import ColonyModels

/// Owns the KV blocks of a `KVCache` for the engine: reference counts, and a prefix cache
/// of full blocks keyed by a hash chain of their tokens.
///
/// A full block's key hashes its tokens together with the key of the block before it, so
/// equal keys mean equal prefixes. Blocks whose last reference goes away stay cached (and
/// reusable) until the pool runs dry; then the least recently used one is evicted.
/// Allocation returns nil instead of failing: the scheduler decides whom to preempt.
final class BlockManager {
    let cache: KVCache
    var blockSize: Int { cache.blockSize }
    private var references: [Int32: Int] = [:]
    private var keyOfBlock: [Int32: UInt64] = [:]
    private var blockOfKey: [UInt64: Int32] = [:]
    /// Cached blocks nobody references, with the tick of their last use.
    private var evictable: [Int32: UInt64] = [:]
    private var tick: UInt64 = 0
    private(set) var hitTokens = 0
    private(set) var queriedTokens = 0

    init(cache: KVCache) { self.cache = cache }

    /// Blocks that an allocation could still get (free or evictable).
    var availableBlocks: Int { cache.freeBlockCount + evictable.count }
    /// Blocks referenced by some sequence.
    var usedBlocks: Int { cache.blockCount - availableBlocks }
    /// Share of prompt tokens served from the prefix cache so far.
    var hitRate: Double { queriedTokens == 0 ? 0 : Double(hitTokens) / Double(queriedTokens) }

    /// A new block with one reference, or nil when none is free or evictable.
    func allocate() -> Int32? {
        let block: Int32
        if let free = cache.allocateBlock() {
            block = free
        } else if let (victim, _) = evictable.min(by: { $0.value < $1.value }) {
            evictable[victim] = nil
            if let key = keyOfBlock.removeValue(forKey: victim) { blockOfKey[key] = nil }
            block = victim
        } else {
            return nil
        }
        references[block] = 1
        return block
    }

    /// Drops one reference to each block; unreferenced blocks stay cached if they hold a
    /// registered prefix, else return to the pool.
    func release(_ blocks: [Int32]) {
        for block in blocks {
            let count = references[block, default: 1] - 1
            if count > 0 { references[block] = count; continue }
            references[block] = nil
            if keyOfBlock[block] != nil {
                tick += 1
                evictable[block] = tick
            } else {
                cache.freeBlock(block)
            }
        }
    }

    /// The cached blocks holding the longest prefix of `tokens` made of full blocks, at
    /// most `limit` tokens long; each returned block gains a reference.
    func matchPrefix(_ tokens: [Int], limit: Int) -> [Int32] {
        var matched: [Int32] = []
        var key = Self.seed
        for start in stride(from: 0, to: limit - blockSize + 1, by: blockSize) {
            key = Self.chain(key, tokens[start..<(start + blockSize)])
            guard let block = blockOfKey[key] else { break }
            matched.append(block)
        }
        for block in matched {
            references[block, default: 0] += 1
            evictable[block] = nil
        }
        queriedTokens += tokens.count
        hitTokens += matched.count * blockSize
        return matched
    }

    /// Records that `blocks[index]` now holds tokens `index·blockSize ..< (index+1)·blockSize`
    /// of `tokens`, so later requests with the same prefix can share it.
    func registerFullBlock(_ blocks: [Int32], index: Int, tokens: [Int]) {
        let block = blocks[index]
        guard keyOfBlock[block] == nil else { return }
        var key = Self.seed
        for i in 0...index { key = Self.chain(key, tokens[(i * blockSize)..<((i + 1) * blockSize)]) }
        guard blockOfKey[key] == nil else { return } // another block already holds this prefix
        keyOfBlock[block] = key
        blockOfKey[key] = block
    }

    /// Reference count of a block (0 when free or only cached).
    func references(of block: Int32) -> Int { references[block] ?? 0 }

    // FNV-1a over the previous key and the block's tokens: stable across runs, unlike Hasher.
    private static let seed: UInt64 = 0xcbf2_9ce4_8422_2325

    private static func chain(_ previous: UInt64, _ tokens: ArraySlice<Int>) -> UInt64 {
        var h = previous
        for t in tokens {
            var v = UInt64(UInt32(truncatingIfNeeded: t))
            for _ in 0..<4 {
                h = (h ^ (v & 0xff)) &* 0x100_0000_01b3
                v >>= 8
            }
        }
        return h
    }
}
