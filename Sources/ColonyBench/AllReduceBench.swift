import ColonyCollectives
import ColonyRouting
import Foundation

/// All-reduce bandwidth of a collective (the MPI backend under `colony bench allreduce`),
/// optionally checking every rank's results.
///
/// Each size is a buffer of f32 values summed in place across the ranks. The buffer is
/// refilled before every call, outside the timing, and every timed call starts after a
/// barrier. The figure is rank 0's median over `iterations` calls after `warmUp` warm-up
/// calls: algorithm bandwidth = buffer bytes / time; bus bandwidth = algorithm bandwidth ×
/// 2(n−1)/n, the bytes each of n ranks sends in a ring all-reduce (as nccl-tests report).
public struct AllReduceBench: Sendable {
    /// Untimed calls per size: the first calls set up MPI's connections and buffers.
    public static let warmUp = 2

    public var iterations: Int
    public var wire: WireFormat
    /// Check the results of all-reduce (each size), reduce-scatter, all-gather, broadcast, send/receive (from one rank and from any) and split.
    public var check: Bool

    public init(iterations: Int = 20, wire: WireFormat = .f32, check: Bool = false) {
        self.iterations = iterations
        self.wire = wire
        self.check = check
    }

    /// Measures every size (in MiB) on every rank; each rank must call it. `onMismatch` hears
    /// a line for each wrong value found on this rank (at most a few per check).
    ///
    /// The report's `wrongValues` is the total over all ranks, so every rank can exit alike.
    public func run(_ world: MPICollective, sizes: [Double], onMismatch: (String) -> Void = { _ in }) throws -> AllReduceBenchReport {
        var rows: [AllReduceBenchReport.Row] = []
        var mismatches = 0
        for mib in sizes {
            let count = max(1, Int(mib * 1_048_576) / MemoryLayout<Float>.size)
            let (seconds, result) = try measure(world, count: count)
            if check { mismatches += try checkAllReduce(world, result, count: count, onMismatch: onMismatch) }
            result.deallocate()
            let algorithm = Double(count * MemoryLayout<Float>.size) / seconds / 1e9
            rows.append(
                .init(
                    mib: mib, bytes: count * MemoryLayout<Float>.size, seconds: seconds, algbwGBs: algorithm,
                    busbwGBs: algorithm * 2 * Double(world.size - 1) / Double(world.size)))
        }
        if check { mismatches += try checkOtherOperations(world, onMismatch: onMismatch) }
        // Every rank learns the total, so all of them finalize and exit the same way.
        var total = Float(mismatches)
        try world.allReduce(&total, count: 1, op: .sum, wire: .f32)
        return AllReduceBenchReport(
            ranks: world.size, wire: wire.rawValue, iterations: iterations, warmUp: Self.warmUp,
            results: rows, checked: check ? total == 0 : nil, wrongValues: Int(total))
    }

    // MARK: - Measurement

    /// Rank r contributes `(i mod 16) + r` at index i: small integers, so every sum below
    /// 256 (any world of up to 8 ranks) is exact in all three wire formats.
    private func contribution(_ i: Int, rank: Int) -> Float {
        Float(i % 16 + rank)
    }

    /// Times `iterations` all-reduces of `count` values; returns rank 0's median and the
    /// last call's result (the caller deallocates it).
    private func measure(_ world: MPICollective, count: Int) throws -> (seconds: Double, result: UnsafeMutablePointer<Float>) {
        let source = UnsafeMutablePointer<Float>.allocate(capacity: count)
        defer { source.deallocate() }
        for i in 0..<count { source[i] = contribution(i, rank: world.rank) }
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: count)
        var times: [Double] = []
        let clock = ContinuousClock()
        for call in 0..<(Self.warmUp + iterations) {
            buffer.update(from: source, count: count)
            try world.barrier()
            let start = clock.now
            try world.allReduce(buffer, count: count, op: .sum, wire: wire)
            let elapsed = clock.now - start
            if call >= Self.warmUp {
                times.append(elapsed.seconds)
            }
        }
        return (Statistics.median(times), buffer)
    }

    // MARK: - Checks

    /// How far a sum of `n` ranks' contributions may be from the exact sum: none in f32
    /// (the sums are small integers), one rounding per addition in a 16-bit wire (which
    /// only happens beyond 8 ranks).
    private func tolerance(_ expected: Float, ranks n: Int) -> Float {
        let unitRoundoff: Float =
            switch wire {
            case .f32: 0
            case .f16: 0x1p-11
            case .bf16: 0x1p-8
            }
        return expected * unitRoundoff * Float(n - 1)
    }

    /// Compares an all-reduce result with the exact sum and with rank 0's bits; returns
    /// the number of wrong values on this rank.
    private func checkAllReduce(
        _ world: MPICollective, _ result: UnsafeMutablePointer<Float>, count: Int, onMismatch: (String) -> Void
    ) throws -> Int {
        let n = world.size
        var wrong = 0
        for i in 0..<count {
            let expected = Float(n * (i % 16) + n * (n - 1) / 2)
            if abs(result[i] - expected) > tolerance(expected, ranks: n) {
                if wrong < 5 {
                    onMismatch("rank \(world.rank): all-reduce of \(count) values, value \(i): expected \(expected), got \(result[i])\n")
                }
                wrong += 1
            }
        }
        let rank0 = UnsafeMutablePointer<Float>.allocate(capacity: count)
        defer { rank0.deallocate() }
        rank0.update(from: result, count: count)
        try world.broadcast(rank0, count: count, root: 0)
        let differing = (0..<count).count(where: { rank0[$0].bitPattern != result[$0].bitPattern })
        if differing > 0 {
            onMismatch("rank \(world.rank): all-reduce of \(count) values differs from rank 0's in \(differing) values\n")
        }
        return wrong + differing
    }

    /// Runs reduce-scatter, all-gather, broadcast, a ring of sends and receives, messages
    /// received from any source, and a split once on a few values; returns the number of wrong results on this rank.
    private func checkOtherOperations(_ world: MPICollective, onMismatch: (String) -> Void) throws -> Int {
        let shard = 7
        let n = world.size
        let r = world.rank
        var wrong = 0
        func expect(_ what: String, _ got: [Float], _ expected: [Float]) {
            if zip(got, expected).contains(where: { abs($0 - $1) > tolerance($1, ranks: n) }) {
                onMismatch("rank \(r): \(what): expected \(expected), got \(got)\n")
                wrong += 1
            }
        }
        let input = (0..<(n * shard)).map { Float($0 % 16 + r) }
        var scattered = [Float](repeating: 0, count: shard)
        try world.reduceScatter(input, &scattered, shardCount: shard, op: .sum, wire: wire)
        expect("reduce-scatter", scattered, (0..<shard).map { Float(n * ((r * shard + $0) % 16) + n * (n - 1) / 2) })

        let mine = (0..<shard).map { Float(r * 16 + $0) }
        var gathered = [Float](repeating: 0, count: n * shard)
        try world.allGather(mine, &gathered, shardCount: shard, wire: wire)
        expect("all-gather", gathered, (0..<(n * shard)).map { Float(($0 / shard) * 16 + $0 % shard) })

        var broadcast = r == n - 1 ? (0..<shard).map { Float(42 + $0) } : [Float](repeating: -1, count: shard)
        try world.broadcast(&broadcast, count: shard, root: n - 1)
        expect("broadcast from rank \(n - 1)", broadcast, (0..<shard).map { Float(42 + $0) })
        guard n > 1 else { return wrong }

        // A ring of sends, two messages each way round so order is checked too.
        for message in 0..<2 {
            let sent = (0..<shard).map { Float(r * 100 + message * 10 + $0) }
            try world.send(sent, count: shard, to: (r + 1) % n)
        }
        let left = (r + n - 1) % n
        for message in 0..<2 {
            var got = [Float](repeating: -1, count: shard)
            try world.receive(&got, count: shard, from: left)
            expect("message \(message) from rank \(left)", got, (0..<shard).map { Float(left * 100 + message * 10 + $0) })
        }

        // Every other rank sends rank 0 a message of its own length, received from any source.
        if r > 0 {
            let sent = [Float](repeating: Float(r), count: r)
            try world.send(sent, count: r, to: 0)
        } else {
            var seen: Set<Int> = []
            for _ in 1..<n {
                let (source, values) = try world.receiveFromAny()
                seen.insert(source)
                expect("message of any source (from rank \(source))", values, [Float](repeating: Float(source), count: source))
                if values.count != source { wrong += 1 }
            }
            if seen != Set(1..<n) {
                onMismatch("rank 0: receive from any source heard from ranks \(seen.sorted()), expected 1..<\(n)\n")
                wrong += 1
            }
        }

        // Even and odd ranks in two groups, ordered by descending world rank; rank 0 stays out.
        let color = r == 0 ? nil : r % 2
        let group = try world.split(color: color, key: -r)
        let members = (1..<n).filter { $0 % 2 == r % 2 }
        if let group {
            if group.size != members.count || group.rank != members.count - 1 - members.firstIndex(of: r)! {
                onMismatch("rank \(r): split: rank \(group.rank) of \(group.size), expected of \(members.count) in descending order\n")
                wrong += 1
            }
            var sum = [Float(r)]
            try group.allReduce(&sum, count: 1, op: .sum, wire: .f32)
            expect("all-reduce in the split group", sum, [Float(members.reduce(0, +))])
        } else if r != 0 {
            onMismatch("rank \(r): split gave no group, expected one of \(members.count)\n")
            wrong += 1
        }
        return wrong
    }
}
