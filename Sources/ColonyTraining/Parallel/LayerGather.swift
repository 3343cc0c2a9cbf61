import ColonyCollectives
import Foundation

/// ZeRO-3's parameters made whole a layer at a time, as DeepSpeed does: a layer's values
/// are gathered from the ranks' shards just before forward enters it (the next layer's
/// gather already under way on a thread of its own), dropped when forward leaves it,
/// gathered again when backward reaches it (the layer below prefetched) and dropped once
/// its gradients are done. What belongs to no layer (embedding, final norm, output) stays
/// whole for the step. So a rank holds at most two layers besides those, not the model.
///
/// A layer spans part of the flat parameters, and the ranks' shards cut that range
/// anywhere: each rank sends its piece of it to every other (buffered sends, then the
/// receives in rank order), an all-gather of uneven pieces. Every rank makes the same
/// requests in the same order on one serial queue, so the messages match.
///
/// `@unchecked Sendable`: `pending` and `present` are touched by the training thread only;
/// the queue reads `shard.value`, which nothing writes while a step's gathers run, and
/// hands each result over through its `Pending` and semaphore.
final class LayerGather: @unchecked Sendable {
    private final class Pending: @unchecked Sendable {
        let done = DispatchSemaphore(value: 0)
        var values: [Float] = []
        var error: Error?
    }

    private let data: any Collective
    private let layout: FlatLayout
    private let parameters: [Variable]
    private let shard: Variable
    /// The parameters (indices, contiguous) of each layer.
    private let layers: [Int: Range<Int>]
    private let rest: [Int]
    private let queue = DispatchQueue(label: "colony.zero3-gather")
    private var pending: [Int: Pending] = [:]
    private var present: Set<Int> = []
    /// The most parameter values of layers held at once since `init`: whole, or gathered
    /// ahead into a buffer.
    private(set) var peakLayerValues = 0

    /// - Parameter layers: the layer of each parameter (nil: none), in `parameters` order.
    init(data: any Collective, layout: FlatLayout, parameters: [Variable], shard: Variable, layers: [Int?]) {
        self.data = data
        self.layout = layout
        self.parameters = parameters
        self.shard = shard
        var groups: [Int: Range<Int>] = [:]
        for (i, layer) in layers.enumerated() {
            guard let layer else { continue }
            groups[layer] = (groups[layer]?.lowerBound ?? i)..<(i + 1)
        }
        self.layers = groups
        rest = layers.indices.filter { layers[$0] == nil }
    }

    /// The values of no layer, gathered for the whole step.
    func gatherRest() throws {
        for m in rest {
            let range = values(of: m..<m + 1)
            parameters[m].value = try queue.sync { try gather(range) }
        }
    }

    /// Starts gathering `layer` unless it is whole already or on its way (or no layer).
    func prefetch(_ layer: Int) {
        guard let members = layers[layer], !present.contains(layer), pending[layer] == nil else { return }
        let request = Pending()
        pending[layer] = request
        notePeak()
        let range = values(of: members)
        queue.async { [self] in
            do { request.values = try gather(range) } catch { request.error = error }
            request.done.signal()
        }
    }

    /// Makes `layer`'s parameters whole, waiting for its gather.
    func ensure(_ layer: Int) throws {
        guard let members = layers[layer], !present.contains(layer) else { return }
        prefetch(layer)
        let request = pending.removeValue(forKey: layer)!
        request.done.wait()
        if let error = request.error { throw error }
        var at = 0
        for m in members {
            parameters[m].value = Array(request.values[at..<at + layout.counts[m]])
            at += layout.counts[m]
        }
        present.insert(layer)
        notePeak()
    }

    private func notePeak() {
        let held = present.union(pending.keys).reduce(0) { $0 + values(of: layers[$1]!).count }
        peakLayerValues = max(peakLayerValues, held)
    }

    /// Drops `layer`'s values (its gradients stay).
    func release(_ layer: Int) {
        guard let members = layers[layer] else { return }
        for m in members { parameters[m].value = [] }
        present.remove(layer)
    }

    /// Hooks `tape`'s layers (0..<layers): gather before forward enters a layer (prefetching
    /// the next), drop after it leaves (but the last, where backward starts), gather again
    /// before backward reaches it (prefetching the one below), drop when it is done.
    func follow(_ tape: Tape, layers: Int) {
        tape.onLayerForward = { [self] in
            try ensure($0)
            prefetch($0 + 1)
        }
        tape.onLayerForwardEnd = { [self] in if $0 != layers - 1 { release($0) } }
        tape.onLayerBackward = { [self] in
            try ensure($0)
            prefetch($0 - 1)
        }
        tape.onLayerGradients = { [self] in release($0) }
    }

    /// The gathers of one forward and backward pass through `layers` layers without the
    /// compute: what a rank with fewer micro-batches than the others makes, so that every
    /// rank's messages still match.
    func idlePass(layers: Int) throws {
        let tape = Tape()
        follow(tape, layers: layers)
        for layer in 0..<layers {
            try tape.onLayerForward?(layer)
            try tape.onLayerForwardEnd?(layer)
        }
        for layer in (0..<layers).reversed() {
            try tape.onLayerBackward?(layer)
            try tape.onLayerGradients?(layer)
        }
    }

    /// After a step (or an evaluation's full gather): nothing is whole and nothing is on its way.
    func reset() {
        for request in pending.values { request.done.wait() }
        pending = [:]
        present = []
    }

    /// The span of the flat parameters that `members` occupy.
    private func values(of members: Range<Int>) -> Range<Int> {
        layout.offsets[members.lowerBound]..<(layout.offsets[members.upperBound - 1] + layout.counts[members.upperBound - 1])
    }

    /// All-gathers `range` of the flat parameters from the ranks' shards (on the queue).
    private func gather(_ range: Range<Int>) throws -> [Float] {
        let size = layout.shardCount
        let me = data.rank
        func piece(_ r: Int) -> Range<Int> {
            let lower = max(range.lowerBound, r * size)
            return lower..<max(lower, min(range.upperBound, (r + 1) * size))
        }
        var out = [Float](repeating: 0, count: range.count)
        let mine = piece(me)
        if !mine.isEmpty {
            let values = Array(shard.value[(mine.lowerBound - me * size)..<(mine.upperBound - me * size)])
            out.replaceSubrange((mine.lowerBound - range.lowerBound)..<(mine.upperBound - range.lowerBound), with: values)
            for peer in 0..<data.size where peer != me { try data.send(values, count: values.count, to: peer) }
        }
        for peer in 0..<data.size where peer != me {
            let p = piece(peer)
            guard !p.isEmpty else { continue }
            try out.withUnsafeMutableBufferPointer { o in
                try data.receive(o.baseAddress! + (p.lowerBound - range.lowerBound), count: p.count, from: peer)
            }
        }
        return out
    }
}
