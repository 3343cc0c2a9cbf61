import ColonyTensor

/// A paged key/value cache: a preallocated pool of blocks of `blockSize` positions, and a
/// block table per sequence that lists the blocks its positions live in, in order.
///
/// Memory is reserved up front but only touched as positions are written, so a large
/// pool costs resident memory only for the tokens actually cached. Running out of blocks
/// is reported, not fatal: the caller (a scheduler) may free or preempt a sequence.
public final class KVCache {
    public let blockSize: Int
    public let blockCount: Int
    public let layerCount: Int
    public let kvDimension: Int
    /// K and V of each layer: `blockCount × blockSize × kvDimension` floats.
    let keys: [FloatBuffer]
    let values: [FloatBuffer]
    private var freeBlocks: [Int32]
    private var tables: [Int: [Int32]] = [:]
    private var lengths: [Int: Int] = [:]

    /// Creates a pool of `blockCount` blocks for a model of the given geometry.
    public init(config: LlamaConfig, blockCount: Int, blockSize: Int = 16) {
        precondition(blockCount > 0 && blockSize > 0, "a KV cache needs at least one block of one position")
        self.blockSize = blockSize
        self.blockCount = blockCount
        layerCount = config.blockCount
        kvDimension = config.kvDimension
        let floats = blockCount * blockSize * kvDimension
        keys = (0..<layerCount).map { _ in FloatBuffer(uninitializedCount: floats) }
        values = (0..<layerCount).map { _ in FloatBuffer(uninitializedCount: floats) }
        freeBlocks = (0..<Int32(blockCount)).reversed()
    }

    /// A cache with room for `positions` positions in total, across all sequences.
    public convenience init(config: LlamaConfig, positions: Int, blockSize: Int = 16) {
        self.init(config: config, blockCount: max(1, (positions + blockSize - 1) / blockSize), blockSize: blockSize)
    }

    public var freeBlockCount: Int { freeBlocks.count }
    /// Positions the pool can hold in total.
    public var capacity: Int { blockCount * blockSize }

    /// Number of positions cached for `sequence` (the next position to write).
    public func length(of sequence: Int) -> Int { lengths[sequence] ?? 0 }

    /// Makes room for positions `0..<count` of `sequence`.
    public func reserve(sequence: Int, positions count: Int) throws(ModelError) {
        var table = tables[sequence] ?? []
        let needed = (count + blockSize - 1) / blockSize - table.count
        guard needed > 0 else { return }
        guard needed <= freeBlocks.count else { throw .outOfKVBlocks(needed: needed, free: freeBlocks.count) }
        for _ in 0..<needed { table.append(freeBlocks.removeLast()) }
        tables[sequence] = table
    }

    /// Records that positions up to `count` are written.
    func markWritten(sequence: Int, through count: Int) {
        lengths[sequence] = max(lengths[sequence] ?? 0, count)
    }

    /// Forgets positions from `position` on (their blocks stay reserved), e.g. to re-run a
    /// prompt suffix.
    public func truncate(sequence: Int, to position: Int) {
        if let n = lengths[sequence], n > position { lengths[sequence] = position }
    }

    /// Frees every block of `sequence`.
    public func release(sequence: Int) {
        if let table = tables.removeValue(forKey: sequence) { freeBlocks.append(contentsOf: table) }
        lengths[sequence] = nil
    }

    // MARK: - External block management
    //
    // A serving engine shares blocks between sequences (prefix caching) and decides which
    // sequence to preempt, so it manages blocks itself through these calls and never uses
    // `reserve`/`release` on the same cache.

    /// Takes a block from the free pool, or nil when none is free.
    public func allocateBlock() -> Int32? { freeBlocks.popLast() }

    /// Returns a block to the free pool.
    public func freeBlock(_ block: Int32) { freeBlocks.append(block) }

    /// Sets the block table of `sequence` and how many of its positions are already cached.
    public func setBlockTable(_ table: [Int32], cachedLength: Int, for sequence: Int) {
        tables[sequence] = table
        lengths[sequence] = cachedLength
    }

    /// Forgets `sequence` without freeing its blocks (their owner frees them).
    public func detach(sequence: Int) {
        tables[sequence] = nil
        lengths[sequence] = nil
    }

    /// The block table of `sequence` (empty if it has none).
    public func blockTable(of sequence: Int) -> [Int32] { tables[sequence] ?? [] }

    /// Slot (block × blockSize + offset) of `position` in `sequence`; the position must be reserved.
    func slot(sequence: Int, position: Int) -> Int {
        Int(tables[sequence]![position / blockSize]) * blockSize + position % blockSize
    }
}
