import ColonyKernels
import ColonyTensor

/// The element type of a KV cache.
public enum KVCacheType: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    /// IEEE half: half the memory and half the attention traffic of f32, at ≈1e-3 relative
    /// rounding of each key and value (llama.cpp's default too).
    case f16
    /// Exact: keys and values as the forward pass computed them.
    case f32

    public var bytesPerElement: Int { self == .f16 ? 2 : 4 }
    public var description: String { rawValue }
}

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
    public let type: KVCacheType
    /// K and V of each layer: `blockCount × blockSize × kvDimension` elements of `type`.
    let keys: [UnsafeMutableRawPointer]
    let values: [UnsafeMutableRawPointer]

    /// Creates a pool of `blockCount` blocks for a model of the given geometry.
    public init(config: LlamaConfiguration, blockCount: Int, blockSize: Int = 16, type: KVCacheType = .f16) {
        precondition(blockCount > 0 && blockSize > 0, "a KV cache needs at least one block of one position")
        self.blockSize = blockSize
        self.blockCount = blockCount
        self.type = type
        layerCount = config.blockCount
        kvDimension = config.kvDimension
        let bytes = blockCount * blockSize * kvDimension * type.bytesPerElement
        keys = (0..<layerCount).map { _ in .allocate(byteCount: bytes, alignment: 64) }
        values = (0..<layerCount).map { _ in .allocate(byteCount: bytes, alignment: 64) }
    }

    /// A cache with room for `positions` positions in total, across all sequences.
    public convenience init(config: LlamaConfiguration, positions: Int, blockSize: Int = 16, type: KVCacheType = .f16) {
        self.init(config: config, blockCount: max(1, (positions + blockSize - 1) / blockSize), blockSize: blockSize, type: type)
    }

    deinit {
        for p in keys + values { p.deallocate() }
    }

    /// Positions the pool can hold in total.
    public var capacity: Int { blockCount * blockSize }

    /// Bytes of K and V per cached position, all layers.
    public var bytesPerPosition: Int { 2 * layerCount * kvDimension * type.bytesPerElement }

    /// A table over every block of this cache, for a caller that runs one sequence at a
    /// time in a cache of its own (tests, benchmarks).
    public func wholeTable() -> BlockTable { BlockTable(blocks: (0..<Int32(blockCount)).map { $0 }) }

    /// The kernels' view of layer `l`.
    func layer(_ l: Int) -> ck_kv_layer {
        ck_kv_layer(
            k: UnsafeRawPointer(keys[l]), v: UnsafeRawPointer(values[l]), block_size: Int64(blockSize), kv_dim: Int64(kvDimension),
            f16: type == .f16 ? 1 : 0)
    }

    /// Writes one position's keys and values of layer `l` into cache slot `slot`.
    func store(layer l: Int, slot: Int, key: UnsafePointer<Float>, value: UnsafePointer<Float>) {
        let f16: Int32 = type == .f16 ? 1 : 0
        ck_kv_store(keys[l], f16, Int64(slot * kvDimension), key, Int64(kvDimension))
        ck_kv_store(values[l], f16, Int64(slot * kvDimension), value, Int64(kvDimension))
    }
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
