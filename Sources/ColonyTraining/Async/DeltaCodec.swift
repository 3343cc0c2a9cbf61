import ColonyTensor

/// How a change of parameters travels in hybrid training: as FP16 (round to nearest even,
/// bit-equal to numpy's `float16`), all of it or only its `topK` largest magnitudes.
///
/// A packed delta is a run of `Float`s, since that is what a `Collective` carries: two FP16
/// values per slot (their bits, not their values). Dense: ⌈n/2⌉ slots for n values, half
/// the bytes of f32. Sparse: k, then k indices (as `UInt32` bits), then ⌈k/2⌉ slots of
/// values: 6 bytes per kept value, worth it below a third of them.
///
/// What rounding and dropping leave out is not lost: the sender keeps it as a residual and
/// adds it to its next delta (error feedback), so every change reaches the servers in time.
public struct DeltaCodec: Sendable, Equatable {
    /// The fraction of values kept, by magnitude (nil: all of them).
    public var topK: Double?

    /// - Throws: `TrainingError.invalidArgument` when `topK` is not in (0, 1].
    public init(topK: Double? = nil) throws(TrainingError) {
        if let topK, !(topK > 0 && topK <= 1) {
            throw .invalidArgument("--delta-top-k must be a fraction in (0, 1], got \(topK)")
        }
        self.topK = topK
    }

    /// Values kept out of `n`: ⌈topK · n⌉, at least one.
    public func kept(of n: Int) -> Int {
        guard let topK else { return n }
        return min(n, max(1, Int((topK * Double(n)).rounded(.up))))
    }

    /// The indices of the `kept(of:)` largest magnitudes, in index order (ties: the lower index).
    public func selection(_ delta: [Float]) -> [Int] {
        let k = kept(of: delta.count)
        guard k < delta.count else { return Array(delta.indices) }
        let order = delta.indices.sorted { a, b in
            let (x, y) = (abs(delta[a]), abs(delta[b]))
            return x != y ? x > y : a < b
        }
        return order.prefix(k).sorted()
    }

    /// Packs `delta` for the wire.
    public func encode(_ delta: [Float]) -> [Float] {
        guard topK != nil else { return Self.pack(delta.map(HalfFloat.f16)) }
        let kept = selection(delta)
        return [Float(bitPattern: UInt32(kept.count))] + kept.map { Float(bitPattern: UInt32($0)) }
            + Self.pack(kept.map { HalfFloat.f16(delta[$0]) })
    }

    /// The delta of `count` values that `packed` carries (zeros where a sparse one has none).
    ///
    /// - Throws: `TrainingError.invalidArgument` when `packed` does not hold such a delta.
    public func decode(_ packed: ArraySlice<Float>, count: Int) throws(TrainingError) -> [Float] {
        func damaged(_ why: String) -> TrainingError { .invalidArgument("a packed delta of \(count) values is damaged: \(why)") }
        guard topK != nil else {
            guard packed.count == (count + 1) / 2 else { throw damaged("\(packed.count) slots, expected \((count + 1) / 2)") }
            return Self.unpack(packed, count: count).map(HalfFloat.float(f16:))
        }
        guard let first = packed.first else { throw damaged("it is empty") }
        let k = Int(first.bitPattern)
        guard k <= count, packed.count == 1 + k + (k + 1) / 2 else { throw damaged("\(packed.count) slots for \(k) values") }
        var delta = [Float](repeating: 0, count: count)
        let values = Self.unpack(packed.dropFirst(1 + k), count: k)
        for (j, slot) in packed.dropFirst().prefix(k).enumerated() {
            let i = Int(slot.bitPattern)
            guard i < count else { throw damaged("index \(i) is out of range") }
            delta[i] = HalfFloat.float(f16: values[j])
        }
        return delta
    }

    /// Two FP16 bit patterns per slot, the first in the low half.
    static func pack(_ halves: [UInt16]) -> [Float] {
        stride(from: 0, to: halves.count, by: 2).map { i in
            let high = i + 1 < halves.count ? UInt32(halves[i + 1]) : 0
            return Float(bitPattern: UInt32(halves[i]) | high << 16)
        }
    }

    static func unpack(_ slots: ArraySlice<Float>, count: Int) -> [UInt16] {
        (0..<count).map { i in
            let bits = slots[slots.startIndex + i / 2].bitPattern
            return UInt16(truncatingIfNeeded: i % 2 == 0 ? bits : bits >> 16)
        }
    }
}
