import ColonyTestSupport
import Foundation
import Testing

/// MPICollective needs one process per rank, so it is tested through the colony binary:
/// `colony bench allreduce --check` runs every operation under mpirun and compares every
/// rank's results with the expected values and with rank 0's bits.
@Suite struct MPICollectiveTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let colony = packageRoot.appendingPathComponent(".build/debug/colony").path
    static let mpirun = BoundedProcess.mpirun
    static let available = mpirun != nil && FileManager.default.isExecutableFile(atPath: colony)

    /// Runs `arguments` under mpirun with `ranks` processes; kills it after `deadline` seconds.
    static func mpirun(ranks: Int, _ arguments: [String], deadline: TimeInterval = 60) throws -> BoundedProcess.Result {
        let run = try BoundedProcess.run(
            mpirun!, ["--allow-run-as-root", "--oversubscribe", "-np", "\(ranks)", colony] + arguments, deadline: deadline)
        if run.timedOut { Issue.record("mpirun \(arguments.joined(separator: " ")) did not finish within \(Int(deadline)) s; killed") }
        return run
    }

    @Test(
        .enabled(if: available, "needs mpirun (./scripts/install-deps) and a built .build/debug/colony"),
        arguments: [1, 2, 3])
    func benchCheckPassesOnEveryRank(ranks: Int) throws {
        for wire in ["f32", "bf16"] {
            let run = try Self.mpirun(
                ranks: ranks, ["bench", "allreduce", "--check", "--sizes", "1,0.01", "--iterations", "3", "--wire", wire])
            #expect(run.status == 0, "stderr: \(run.stderr)")
            #expect(run.stdout.contains("\(ranks) ranks, wire \(wire)"))
            let sizes = run.stdout.split(separator: "\n").compactMap { $0.split(separator: " ").first.flatMap { Double($0) } }
            #expect(sizes == [1, 0.01], "stdout: \(run.stdout)")
            #expect(run.stdout.contains("check: all \(ranks) ranks got the expected sums"), "stdout: \(run.stdout)")
        }
    }
}
