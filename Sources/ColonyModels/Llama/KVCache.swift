import ColonyTensor

/// The memory of a paged key/value cache: a preallocated pool of `blockCount` blocks of
/// `blockSize` positions per layer. Which blocks a sequence uses is not kept here: callers
/// pass a `BlockTable` per sequence to `LlamaModel.forward` (the serving engine's block
/// pool owns that bookkeeping, with sharing and eviction).
///
/// Memory is reserved up front but only touched as positions are written, so a large
/// pool costs resident memory only for the tokens actually cached.
public final class KVCache {
    public let blockSize: Int
    public let blockCount: Int
    public let layerCount: Int
    public let kvDimension: Int
    /// K and V of each layer: `blockCount × blockSize × kvDimension` floats.
    let keys: [FloatBuffer]
    let values: [FloatBuffer]

    /// Creates a pool of `blockCount` blocks for a model of the given geometry.
    public init(config: LlamaConfiguration, blockCount: Int, blockSize: Int = 16) {
        precondition(blockCount > 0 && blockSize > 0, "a KV cache needs at least one block of one position")
        self.blockSize = blockSize
        self.blockCount = blockCount
        layerCount = config.blockCount
        kvDimension = config.kvDimension
        let floats = blockCount * blockSize * kvDimension
        keys = (0..<layerCount).map { _ in FloatBuffer(uninitializedCount: floats) }
        values = (0..<layerCount).map { _ in FloatBuffer(uninitializedCount: floats) }
    }

    /// A cache with room for `positions` positions in total, across all sequences.
    public convenience init(config: LlamaConfiguration, positions: Int, blockSize: Int = 16) {
        self.init(config: config, blockCount: max(1, (positions + blockSize - 1) / blockSize), blockSize: blockSize)
    }

    /// Positions the pool can hold in total.
    public var capacity: Int { blockCount * blockSize }

    /// A table over every block of this cache, for a caller that runs one sequence at a
    /// time in a cache of its own (tests, benchmarks).
    public func wholeTable() -> BlockTable { BlockTable(blocks: (0..<Int32(blockCount)).map { $0 }) }
}

/// Where one sequence's keys and values live: the cache blocks of its positions, in order
/// (position p is in `blocks[p / blockSize]`), and how many positions are written.
public struct BlockTable: Sendable, Equatable {
    public var blocks: [Int32]
    /// Positions `0..<length` hold keys and values; the next batch token of the sequence
    /// may start at any position up to `length` (an earlier one rewrites a suffix).
    public var length: Int

    public init(blocks: [Int32] = [], length: Int = 0) {
        self.blocks = blocks
        self.length = length
    }
}
