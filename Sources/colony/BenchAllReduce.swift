import ArgumentParser
import ColonyCollectives
import Foundation

struct BenchAllReduce: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "allreduce",
        abstract: "Measure all-reduce bandwidth of the MPI backend against MPI's own figure.",
        discussion: """
            Run one process per rank under mpirun, e.g. \
            `mpirun --allow-run-as-root --oversubscribe -np 2 colony bench allreduce`; rank 0 prints. \
            Each size is a buffer of f32 values summed in place across the ranks. The buffer is \
            refilled before every call, outside the timing, and every timed call starts after a \
            barrier. The figure is rank 0's median over --iterations calls after \(warmUp) warm-up \
            calls: algorithm bandwidth = buffer bytes / time; bus bandwidth = algorithm bandwidth × \
            2(n−1)/n, the bytes each of n ranks sends in a ring all-reduce (as nccl-tests report). \
            scripts/bench-allreduce measures MPI_Allreduce itself the same way \
            (scripts/reference/mpi_allreduce.c) and prints the ratio.
            """
    )

    /// Untimed calls per size: the first calls set up MPI's connections and buffers.
    static let warmUp = 2

    @Option(name: .long, help: "Buffer sizes in MiB, comma-separated.")
    var sizes = "1,16,64"

    @Option(name: .long, help: "Timed calls per size (the median is reported).")
    var iterations = 20

    @Option(name: .long, help: "Wire format: f32, f16 or bf16.", transform: { text in
        guard let wire = WireFormat(rawValue: text) else {
            throw ValidationError("unknown wire format '\(text)'; known: \(WireFormat.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return wire
    })
    var wire = WireFormat.f32

    @Flag(name: .long, help: "Check every rank's results (all-reduce of each size, reduce-scatter, all-gather, broadcast) and exit non-zero on a mismatch.")
    var check = false

    @Flag(name: .long, help: "Print one JSON object instead of a table.")
    var json = false

    /// `--sizes` in MiB.
    var sizeList: [Double] {
        sizes.split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
    }

    func validate() throws {
        let parts = sizes.split(separator: ",", omittingEmptySubsequences: false)
        guard !parts.isEmpty, sizeList.count == parts.count, sizeList.allSatisfy({ $0 > 0 && $0 <= 4096 }) else {
            throw ValidationError("--sizes must be a comma-separated list of MiB between 0 and 4096, e.g. 1,16,64; got '\(sizes)'")
        }
        guard iterations >= 1 && iterations <= 1000 else {
            throw ValidationError("--iterations must be between 1 and 1000, got \(iterations)")
        }
    }

    func run() throws {
        let world = try MPICollective.initialize()
        var rows: [Row] = []
        var mismatches = 0
        for mib in sizeList {
            let count = max(1, Int(mib * 1_048_576) / MemoryLayout<Float>.size)
            let (seconds, result) = try measure(world, count: count)
            if check { mismatches += try checkAllReduce(world, result, count: count) }
            result.deallocate()
            let algorithm = Double(count * MemoryLayout<Float>.size) / seconds / 1e9
            rows.append(Row(mib: mib, bytes: count * MemoryLayout<Float>.size, seconds: seconds, algbwGBs: algorithm,
                            busbwGBs: algorithm * 2 * Double(world.size - 1) / Double(world.size)))
        }
        if check { mismatches += try checkOtherOperations(world) }
        // Every rank learns the total, so all of them finalize and exit the same way.
        var total = Float(mismatches)
        try world.allReduce(&total, count: 1, op: .sum, wire: .f32)
        try MPICollective.finalize()

        guard world.rank == 0 else {
            if total > 0 { throw ExitCode.failure }
            return
        }
        if json {
            let report = Report(ranks: world.size, wire: wire.rawValue, iterations: iterations, warmUp: Self.warmUp,
                                results: rows, checked: check ? total == 0 : nil)
            try writeJSON(report)
        } else {
            writeOut(table(rows, ranks: world.size))
            if check {
                writeOut(total == 0
                    ? "check: all \(world.size) ranks got the expected sums, the same bits as rank 0, and correct reduce-scatter, all-gather and broadcast results\n"
                    : "check: FAILED, \(Int(total)) wrong values over all ranks (details on stderr)\n")
            }
        }
        if total > 0 { throw ExitCode.failure }
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
                times.append(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18)
            }
        }
        times.sort()
        let median = times.count % 2 == 1 ? times[times.count / 2] : (times[times.count / 2 - 1] + times[times.count / 2]) / 2
        return (median, buffer)
    }

    // MARK: - Checks

    /// How far a sum of `n` ranks' contributions may be from the exact sum: none in f32
    /// (the sums are small integers), one rounding per addition in a 16-bit wire (which
    /// only happens beyond 8 ranks).
    private func tolerance(_ expected: Float, ranks n: Int) -> Float {
        let unitRoundoff: Float = switch wire { case .f32: 0; case .f16: 0x1p-11; case .bf16: 0x1p-8 }
        return expected * unitRoundoff * Float(n - 1)
    }

    /// Compares an all-reduce result with the exact sum and with rank 0's bits; returns
    /// the number of wrong values on this rank.
    private func checkAllReduce(_ world: MPICollective, _ result: UnsafeMutablePointer<Float>, count: Int) throws -> Int {
        let n = world.size
        var wrong = 0
        for i in 0..<count {
            let expected = Float(n * (i % 16) + n * (n - 1) / 2)
            if abs(result[i] - expected) > tolerance(expected, ranks: n) {
                if wrong < 5 { writeErr("rank \(world.rank): all-reduce of \(count) values, value \(i): expected \(expected), got \(result[i])\n") }
                wrong += 1
            }
        }
        let rank0 = UnsafeMutablePointer<Float>.allocate(capacity: count)
        defer { rank0.deallocate() }
        rank0.update(from: result, count: count)
        try world.broadcast(rank0, count: count, root: 0)
        let differing = (0..<count).count(where: { rank0[$0].bitPattern != result[$0].bitPattern })
        if differing > 0 {
            writeErr("rank \(world.rank): all-reduce of \(count) values differs from rank 0's in \(differing) values\n")
        }
        return wrong + differing
    }

    /// Runs reduce-scatter, all-gather and broadcast once on a few values; returns the
    /// number of wrong values on this rank.
    private func checkOtherOperations(_ world: MPICollective) throws -> Int {
        let shard = 7, n = world.size, r = world.rank
        var wrong = 0
        func expect(_ what: String, _ got: [Float], _ expected: [Float]) {
            if zip(got, expected).contains(where: { abs($0 - $1) > tolerance($1, ranks: n) }) {
                writeErr("rank \(r): \(what): expected \(expected), got \(got)\n")
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
        return wrong
    }

    // MARK: - Output

    struct Row: Codable {
        let mib: Double
        let bytes: Int
        let seconds: Double
        let algbwGBs: Double
        let busbwGBs: Double
    }

    struct Report: Codable {
        let ranks: Int
        let wire: String
        let iterations: Int
        let warmUp: Int
        let results: [Row]
        /// Whether `--check` passed; absent without `--check`.
        let checked: Bool?
    }

    /// The same columns as scripts/reference/mpi_allreduce.c prints, so the script can
    /// read both the same way.
    private func table(_ rows: [Row], ranks: Int) -> String {
        var out = "colony all-reduce (MPI backend), \(ranks) ranks, wire \(wire.rawValue), sum in place, median of \(iterations) after \(Self.warmUp) warm-up\n"
        out += "MiB".leftPadded(8) + "bytes".leftPadded(12) + "time_us".leftPadded(12) + "algbw_GB/s".leftPadded(12) + "busbw_GB/s".leftPadded(12) + "\n"
        for row in rows {
            out += String(format: "%8g%12d%12.1f%12.2f%12.2f\n", row.mib, row.bytes, row.seconds * 1e6, row.algbwGBs, row.busbwGBs)
        }
        return out
    }
}

private extension String {
    func leftPadded(_ width: Int) -> String {
        String(repeating: " ", count: max(0, width - count)) + self
    }
}
