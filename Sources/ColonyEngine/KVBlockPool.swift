/// All KV block bookkeeping of an engine: which blocks are free, how many sequences use
/// each, and a prefix cache of full blocks keyed by `PrefixHash`.
///
/// Blocks whose last reference goes away stay cached (and reusable by a later request
/// with the same prefix) until the pool runs dry; then the least recently used one is
/// evicted. Allocation returns nil instead of failing: the scheduler decides whom to
/// preempt. With `recordsEvents` on, every change to the prefix cache is kept as a
/// `KVEvent` until `drainEvents` takes it.
///
/// Not thread-safe: one scheduler owns a pool.
public final class KVBlockPool {
    public let blockCount: Int
    public let blockSize: Int
    /// Keep `KVEvent`s for `drainEvents` (off: nobody listens, so none are kept).
    public var recordsEvents = false
    private var free: [Int32]
    private var references: [Int32: Int] = [:]
    private var hashOfBlock: [Int32: PrefixHash] = [:]
    private var blockOfHash: [PrefixHash: Int32] = [:]
    /// Cached blocks nobody references, with the tick of their last use.
    private var evictable: [Int32: UInt64] = [:]
    private var tick: UInt64 = 0
    private var events: [KVEvent] = []
    public private(set) var hitTokens = 0
    public private(set) var queriedTokens = 0

    public init(blockCount: Int, blockSize: Int) {
        precondition(blockCount > 0 && blockSize > 0, "a block pool needs at least one block of one position")
        self.blockCount = blockCount
        self.blockSize = blockSize
        free = (0..<Int32(blockCount)).reversed()
    }

    /// Blocks that an allocation could still get (free or evictable).
    public var availableBlocks: Int { free.count + evictable.count }
    /// Blocks referenced by some sequence.
    public var usedBlocks: Int { blockCount - availableBlocks }
    /// Share of queried prompt tokens served from the prefix cache so far.
    public var hitRate: Double { queriedTokens == 0 ? 0 : Double(hitTokens) / Double(queriedTokens) }

    /// A new block with one reference, or nil when none is free or evictable.
    public func allocate() -> Int32? {
        let block: Int32
        if let b = free.popLast() {
            block = b
        } else if let (victim, _) = evictable.min(by: { $0.value < $1.value }) {
            evictable[victim] = nil
            if let hash = hashOfBlock.removeValue(forKey: victim) {
                blockOfHash[hash] = nil
                record(.removed([hash]))
            }
            block = victim
        } else {
            return nil
        }
        references[block] = 1
        return block
    }

    /// `count` new blocks, or none (and nothing changes) when the pool cannot give them all.
    public func allocate(_ count: Int) -> [Int32]? {
        guard count <= availableBlocks else { return nil }
        return (0..<count).map { _ in allocate()! }
    }

    /// Drops one reference to each block; unreferenced blocks stay cached if they hold a
    /// registered prefix, else return to the free list.
    public func release(_ blocks: [Int32]) {
        for block in blocks {
            let count = references[block, default: 1] - 1
            if count > 0 {
                references[block] = count
                continue
            }
            references[block] = nil
            if hashOfBlock[block] != nil {
                tick += 1
                evictable[block] = tick
            } else {
                free.append(block)
            }
        }
    }

    /// The cached blocks of the longest run of `hashes` from the start; each returned
    /// block gains a reference. `queried` tokens count toward the hit rate.
    public func matchPrefix(_ hashes: ArraySlice<PrefixHash>, queried: Int) -> [Int32] {
        var matched: [Int32] = []
        for hash in hashes {
            guard let block = blockOfHash[hash] else { break }
            matched.append(block)
        }
        for block in matched {
            references[block, default: 0] += 1
            evictable[block] = nil
        }
        queriedTokens += queried
        hitTokens += matched.count * blockSize
        return matched
    }

    /// Records that `block` now holds the full block whose prefix hash is `hash`, so later
    /// requests with the same prefix can share it. A block already registered, or a prefix
    /// another block holds, is left as it is.
    public func register(_ block: Int32, hash: PrefixHash, parent: PrefixHash?) {
        guard hashOfBlock[block] == nil, blockOfHash[hash] == nil else { return }
        hashOfBlock[block] = hash
        blockOfHash[hash] = block
        record(.stored(hashes: [hash], parent: parent, blockSize: blockSize))
    }

    /// Reference count of a block (0 when free or only cached).
    public func references(of block: Int32) -> Int { references[block] ?? 0 }

    /// Forgets every cached prefix (for example when the model's weights change); blocks
    /// in use stay with their sequences but will not be matched again.
    public func clearPrefixCache() {
        for block in evictable.keys { free.append(block) }
        evictable = [:]
        hashOfBlock = [:]
        blockOfHash = [:]
        record(.cleared)
    }

    /// The events recorded since the last call, oldest first.
    public func drainEvents() -> [KVEvent] {
        defer { events = [] }
        return events
    }

    private func record(_ event: KVEvent) {
        if recordsEvents { events.append(event) }
    }
}
