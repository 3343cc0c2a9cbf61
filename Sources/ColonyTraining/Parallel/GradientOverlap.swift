import ColonyCollectives
import Foundation

/// Data parallel's gradient all-reduce, started bucket by bucket during the backward pass
/// (as PyTorch DDP does): when backward has finished a group of layers (from the last
/// down), their gradients are final, so they are copied into the flat buffer and reduced
/// on a thread of its own while the layers below are still differentiated. What belongs
/// to no layer (embedding, final norm, output) is reduced at the end.
///
/// Every rank issues the buckets in the same order (a bucket not yet issued when backward
/// ends is issued then), so the collectives match. The sums are the per-value sums of the
/// unoverlapped path, whatever the buckets.
///
/// `@unchecked Sendable`: `buffer` is written by the training thread only in ranges whose
/// bucket has not been handed to `queue`, and by `queue` only in handed-over ranges; the
/// training thread reads it after `queue` has drained.
final class GradientOverlap: @unchecked Sendable {
    private struct Bucket {
        var layers: Set<Int>
        /// Indices into `parameters`, contiguous in the flat layout.
        var members: Range<Int>
        var values: Range<Int>
    }

    private let collective: any Collective
    private let wire: WireFormat
    private let layout: FlatLayout
    private let parameters: [Variable]
    /// Layer buckets in the order backward finishes them, then the parameters of no layer.
    private let buckets: [Bucket]
    /// Parameters of no layer.
    private let rest: [Int]
    let buffer: UnsafeMutableBufferPointer<Float>
    private let queue = DispatchQueue(label: "colony.gradient-overlap")
    private var issued = 0
    private var done: Set<Int> = []
    private let failure = Failure()

    private final class Failure: @unchecked Sendable {
        let lock = NSLock()
        var error: Error?
    }

    /// - Parameter layers: the layer of each parameter (nil: none), in `parameters` order.
    init(collective: any Collective, wire: WireFormat, layout: FlatLayout, parameters: [Variable], layers: [Int?], bucketValues: Int) {
        self.collective = collective
        self.wire = wire
        self.layout = layout
        self.parameters = parameters
        buffer = .allocate(capacity: layout.shardCount * collective.size)
        buffer.initialize(repeating: 0)
        // Runs of parameters per layer, from the last layer down, merged until a bucket holds bucketValues.
        var runs: [(layer: Int, members: Range<Int>)] = []
        var i = 0
        while i < layers.count {
            var j = i + 1
            while j < layers.count && layers[j] == layers[i] { j += 1 }
            if let layer = layers[i] { runs.append((layer, i..<j)) }
            i = j
        }
        var buckets: [Bucket] = []
        for run in runs.reversed() {
            let values =
                layout.offsets[
                    run.members.lowerBound]..<(layout.offsets[run.members.upperBound - 1] + layout.counts[run.members.upperBound - 1])
            if var last = buckets.last, last.values.count < bucketValues, last.members.lowerBound == run.members.upperBound {
                last.layers.insert(run.layer)
                last.members = run.members.lowerBound..<last.members.upperBound
                last.values = values.lowerBound..<last.values.upperBound
                buckets[buckets.count - 1] = last
            } else {
                buckets.append(Bucket(layers: [run.layer], members: run.members, values: values))
            }
        }
        self.buckets = buckets
        let covered = Set(buckets.flatMap { Array($0.members) })
        rest = parameters.indices.filter { !covered.contains($0) }
    }

    deinit { buffer.deallocate() }

    /// Before the last micro-batch's backward.
    func begin() {
        issued = 0
        done = []
    }

    /// Backward has finished `layer`: issues every bucket now complete, in order.
    func layerDone(_ layer: Int) {
        done.insert(layer)
        while issued < buckets.count && buckets[issued].layers.isSubset(of: done) {
            issue(buckets[issued].members)
            issued += 1
        }
    }

    /// Issues what is left and waits for every reduction: `buffer` then holds the summed
    /// flat gradients.
    func finish() throws {
        while issued < buckets.count {
            issue(buckets[issued].members)
            issued += 1
        }
        for m in rest { issue(m..<m + 1) }
        queue.sync {}
        failure.lock.lock()
        defer { failure.lock.unlock() }
        if let error = failure.error {
            failure.error = nil
            throw error
        }
    }

    /// Copies the gradients of `parameters[members]` into the buffer and reduces them on the queue.
    private func issue(_ members: Range<Int>) {
        for m in members { copy(m) }
        let start = layout.offsets[members.lowerBound]
        let end = layout.offsets[members.upperBound - 1] + layout.counts[members.upperBound - 1]
        reduce(start..<end)
    }

    private func copy(_ m: Int) {
        let grad = parameters[m].grad
        let at = buffer.baseAddress! + layout.offsets[m]
        if grad.isEmpty {
            at.update(repeating: 0, count: layout.counts[m])
        } else {
            grad.withUnsafeBufferPointer { at.update(from: $0.baseAddress!, count: layout.counts[m]) }
        }
    }

    private func reduce(_ values: Range<Int>) {
        guard !values.isEmpty else { return }
        queue.async { [self] in
            do { try collective.allReduce(buffer.baseAddress! + values.lowerBound, count: values.count, op: .sum, wire: wire) } catch {
                failure.lock.lock()
                failure.error = failure.error ?? error
                failure.lock.unlock()
            }
        }
    }
}
