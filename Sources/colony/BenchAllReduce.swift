import ArgumentParser
import ColonyBench
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
            barrier. The figure is rank 0's median over --iterations calls after \(AllReduceBench.warmUp) warm-up \
            calls: algorithm bandwidth = buffer bytes / time; bus bandwidth = algorithm bandwidth × \
            2(n−1)/n, the bytes each of n ranks sends in a ring all-reduce (as nccl-tests report). \
            scripts/bench-allreduce measures MPI_Allreduce itself the same way \
            (scripts/reference/mpi_allreduce.c) and prints the ratio.
            """
    )

    @Option(name: .long, help: "Buffer sizes in MiB, comma-separated.")
    var sizes = "1,16,64"

    @Option(name: .long, help: "Timed calls per size (the median is reported).")
    var iterations = 20

    @Option(
        name: .long, help: "Wire format: f32, f16 or bf16.",
        transform: { text in
            guard let wire = WireFormat(rawValue: text) else {
                throw ValidationError(
                    "unknown wire format '\(text)'; known: \(WireFormat.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return wire
        })
    var wire = WireFormat.f32

    @Flag(
        name: .long,
        help: "Check every rank's results (all-reduce of each size, reduce-scatter, all-gather, broadcast) and exit non-zero on a mismatch."
    )
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
        let bench = AllReduceBench(iterations: iterations, wire: wire, check: check)
        let report = try bench.run(world, sizes: sizeList) { writeErr($0) }
        try MPICollective.finalize()
        if world.rank == 0 { writeOut(try report.rendered(json: json)) }
        if report.wrongValues > 0 { throw ExitCode.failure }
    }
}
