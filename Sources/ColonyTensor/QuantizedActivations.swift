import ColonyKernels

/// Activations quantised per block of 32 for the packed integer kernels (`ck_act`): up to
/// `capacity` rows of `k` values, in buffers owned here and reused by every `quantize`.
///
/// `split` selects the 14-bit form (two int8 parts, the "int16" precision) over plain int8.
public final class QuantizedActivations: @unchecked Sendable {
    public let capacity: Int
    public let k: Int
    public let split: Bool
    private let high, low: UnsafeMutablePointer<Int8>
    private let scales, sums: UnsafeMutablePointer<Float>
    private let blockSums, halfSums: UnsafeMutablePointer<Int32>
    /// One descriptor per row, pointing into the buffers above.
    public let rows: UnsafeMutablePointer<ck_act>

    public init(capacity: Int, k: Int, split: Bool) {
        precondition(k % 32 == 0, "integer activations come in blocks of 32")
        self.capacity = capacity
        self.k = k
        self.split = split
        let blocks = k / 32
        high = .allocate(capacity: capacity * k)
        low = .allocate(capacity: capacity * k)
        scales = .allocate(capacity: capacity * blocks)
        sums = .allocate(capacity: capacity * blocks)
        blockSums = .allocate(capacity: capacity * blocks)
        halfSums = .allocate(capacity: 2 * capacity * blocks)
        rows = .allocate(capacity: capacity)
        for t in 0..<capacity {
            rows[t] = ck_act(
                hi: high + t * k, lo: split ? low + t * k : nil, d: scales + t * blocks, s: sums + t * blocks,
                isum: blockSums + t * blocks, isum16: halfSums + 2 * t * blocks)
        }
    }

    deinit {
        for p in [high, low] { p.deallocate() }
        for p in [scales, sums] { p.deallocate() }
        for p in [blockSums, halfSums] { p.deallocate() }
        rows.deallocate()
    }

    /// Quantises `count` rows of `k` floats at `source` (row stride `k`) into rows `0..<count`.
    @discardableResult
    public func quantize(_ source: UnsafePointer<Float>, rows count: Int) -> UnsafePointer<ck_act> {
        precondition(count <= capacity, "\(count) rows exceed the capacity \(capacity)")
        for t in 0..<count { ck_quantize_act(source + t * k, Int64(k), rows[t]) }
        return UnsafePointer(rows)
    }
}
