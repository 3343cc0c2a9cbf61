import Foundation
import Synchronization

/// A `Collective` whose ranks are threads of this process: for tests, and for training
/// with several replicas on one machine.
///
/// Each rank must call from its own thread (a rank blocks until the others arrive).
/// Reductions add the ranks' contributions in rank order — rank 0's, then rank 1's, … —
/// after rounding each through the wire format, so every rank gets the same bits. The
/// ranks split the work: for an all-reduce of n values, rank r sums the r-th of `size`
/// ranges into a shared buffer, and then every rank copies the whole result.
///
/// Calls that differ between ranks (another operation, count, op, wire or root) throw the
/// same `CollectiveError` on every rank instead of hanging. A rank that stops calling
/// leaves the others waiting, unless the ranks run under `run(size:_:)`, which releases
/// them with an error when a rank's work throws or returns.
///
/// ```swift
/// let sums = try InProcessCollective.run(size: 4) { c in
///     var g: [Float] = [Float(c.rank)]
///     try c.allReduce(&g, count: 1, op: .sum, wire: .f32)
///     return g[0]
/// }
/// // sums == [6, 6, 6, 6]
/// ```
public struct InProcessCollective: Collective {
    public let rank: Int
    public var size: Int { group.size }
    private let group: InProcessGroup

    /// Values each rank reduces at a time, over all ranks, before moving on: a tile of the
    /// shared sum (32 KiB) stays in L1/L2 while every rank's contribution is added to it.
    private static let tile = 8192

    /// Creates the `size` (≥ 1) ranks of a new group, rank r at index r.
    public static func group(size: Int) -> [InProcessCollective] {
        let group = InProcessGroup(size: size)
        return (0..<size).map { InProcessCollective(rank: $0, group: group) }
    }

    /// Runs `body` once per rank of a new group of `size`, each on its own thread, and
    /// returns the results in rank order. Blocks the calling thread until all are done.
    ///
    /// When a rank's `body` throws or returns, the group is marked broken: the other ranks'
    /// pending and later collectives throw instead of waiting for it. (A rank can only
    /// return once every rank has reached the end of its last collective, so ranks that
    /// make the same calls never see this.)
    ///
    /// - Throws: the error of the first rank (in time) that failed.
    public static func run<T: Sendable>(size: Int, _ body: @escaping @Sendable (InProcessCollective) throws -> T) throws -> [T] {
        let ranks = group(size: size)
        let group = ranks[0].group
        let outcome = RankOutcomes<T>(size: size)
        let done = DispatchSemaphore(value: 0)
        for c in ranks {
            // A thread per rank, not a dispatch queue: a rank blocks in the barrier, and a
            // pool with fewer threads than ranks would never run the rank it waits for.
            let thread = Thread {
                do {
                    let result = try body(c)
                    outcome.state.withLock { $0.results[c.rank] = result }
                    group.family.depart(rank: c.rank, error: nil)
                } catch {
                    outcome.state.withLock { if $0.firstError == nil { $0.firstError = error } }
                    group.family.depart(rank: c.rank, error: error)
                }
                done.signal()
            }
            thread.name = "colony-rank-\(c.rank)"
            thread.start()
        }
        for _ in 0..<size { done.wait() }
        return try outcome.state.withLock { s in
            if let error = s.firstError { throw error }
            return s.results.map { $0! }
        }
    }

    private init(rank: Int, group: InProcessGroup) {
        self.rank = rank
        self.group = group
    }

    // MARK: - Collective

    public func allReduce(_ buffer: UnsafeMutablePointer<Float>, count: Int, op: ReduceOp, wire: WireFormat) throws {
        try group.enter(rank: rank, InProcessPost(kind: .allReduce, count: count, op: op, wire: wire, buffer: UnsafeRawPointer(buffer)))
        let range = Self.part(rank, of: size, count: count)
        reduce(range: range, into: group.scratch + range.lowerBound, op: op, wire: wire)
        try group.leave()
        // Every rank's range of the scratch is complete; nobody writes it again before
        // this rank arrives at the next collective.
        buffer.update(from: group.scratch, count: count)
    }

    public func reduceScatter(
        _ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, shardCount: Int, op: ReduceOp, wire: WireFormat
    ) throws {
        try group.enter(
            rank: rank, InProcessPost(kind: .reduceScatter, count: shardCount, op: op, wire: wire, buffer: UnsafeRawPointer(input)))
        let start = rank * shardCount
        reduce(range: start..<(start + shardCount), into: output, op: op, wire: wire)
        try group.leave()  // the others may still be reading this rank's input
    }

    public func allGather(_ shard: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, shardCount: Int, wire: WireFormat) throws {
        try group.enter(rank: rank, InProcessPost(kind: .allGather, count: shardCount, wire: wire, buffer: UnsafeRawPointer(shard)))
        for r in 0..<size {
            // This rank's own shard goes through the wire too, so every rank's copy matches.
            let source = group.posts[r].buffer!.assumingMemoryBound(to: Float.self)
            WireKernels.roundTrip(source, output + r * shardCount, count: shardCount, wire: wire)
        }
        try group.leave()
    }

    public func broadcast(_ buffer: UnsafeMutablePointer<Float>, count: Int, root: Int) throws {
        try group.enter(rank: rank, InProcessPost(kind: .broadcast, count: count, root: root, buffer: UnsafeRawPointer(buffer)))
        if rank != root {
            buffer.update(from: group.posts[root].buffer!.assumingMemoryBound(to: Float.self), count: count)
        }
        try group.leave()
    }

    public func barrier() throws {
        try group.enter(rank: rank, InProcessPost(kind: .barrier, count: 0))
    }

    public func send(_ buffer: UnsafePointer<Float>, count: Int, to destination: Int) throws {
        try checkPeer(destination, "send to")
        try group.post(Array(UnsafeBufferPointer(start: buffer, count: count)), from: rank, to: destination)
    }

    public func receive(_ buffer: UnsafeMutablePointer<Float>, count: Int, from source: Int) throws {
        try checkPeer(source, "receive from")
        let message = try group.take(from: source, to: rank)
        guard message.count == count else {
            throw CollectiveError(
                "rank \(rank) expected \(count) values from rank \(source), which sent \(message.count); sends and receives must agree on sizes"
            )
        }
        message.withUnsafeBufferPointer { buffer.update(from: $0.baseAddress!, count: count) }
    }

    public func receiveFromAny() throws -> (source: Int, values: [Float]) {
        try group.takeAny(to: rank)
    }

    public func split(color: Int?, key: Int) throws -> (any Collective)? {
        try group.enter(rank: rank, InProcessPost(kind: .split, count: 0, color: color, key: key))
        let mine = group.splits[rank]
        try group.leave()
        return mine.map { InProcessCollective(rank: $0.rank, group: $0.group) }
    }

    /// Point-to-point peers are other ranks of this group.
    private func checkPeer(_ peer: Int, _ what: String) throws {
        guard (0..<size).contains(peer), peer != rank else {
            throw CollectiveError("rank \(rank) cannot \(what) rank \(peer): the peer must be another rank of this group of \(size)")
        }
    }

    // MARK: - Reduction

    /// Writes the reduction of the ranks' posted buffers over `range` to `out`, adding in
    /// rank order.
    private func reduce(range: Range<Int>, into out: UnsafeMutablePointer<Float>, op: ReduceOp, wire: WireFormat) {
        var start = range.lowerBound
        while start < range.upperBound {
            let n = min(Self.tile, range.upperBound - start)
            let o = out + (start - range.lowerBound)
            for r in 0..<size {
                let source = group.posts[r].buffer!.assumingMemoryBound(to: Float.self) + start
                if r == 0 {
                    WireKernels.roundTrip(source, o, count: n, wire: wire)
                } else {
                    WireKernels.accumulate(source, into: o, count: n, wire: wire)
                }
            }
            if op == .average { WireKernels.divide(o, count: n, by: size) }
            start += n
        }
    }

    /// Rank r's share of `count` values split as evenly as possible among `size` ranks.
    private static func part(_ r: Int, of size: Int, count: Int) -> Range<Int> {
        (r * count / size)..<((r + 1) * count / size)
    }
}

/// What the ranks of `InProcessCollective.run` returned or threw (a class, because the
/// rank threads share it and a `Mutex` cannot be copied into their closures).
private final class RankOutcomes<T: Sendable>: Sendable {
    let state: Mutex<(results: [T?], firstError: (any Error)?)>

    init(size: Int) {
        state = Mutex((Array(repeating: nil, count: size), nil))
    }
}
