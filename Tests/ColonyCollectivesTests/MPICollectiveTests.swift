import Foundation
import Testing

/// MPICollective needs one process per rank, so it is tested through the colony binary:
/// `colony bench allreduce --check` runs every operation under mpirun and compares every
/// rank's results with the expected values and with rank 0's bits.
@Suite struct MPICollectiveTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let colony = packageRoot.appendingPathComponent(".build/debug/colony").path
    static let mpirun = ["/usr/bin/mpirun", "/usr/local/bin/mpirun"].first { FileManager.default.isExecutableFile(atPath: $0) }
    static let available = mpirun != nil && FileManager.default.isExecutableFile(atPath: colony)

    /// Runs `arguments` under mpirun with `ranks` processes; kills it after `deadline` seconds.
    static func mpirun(ranks: Int, _ arguments: [String], deadline: TimeInterval = 60) throws -> (
        status: Int32, stdout: String, stderr: String
    ) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: mpirun!)
        process.arguments = ["--allow-run-as-root", "--oversubscribe", "-np", "\(ranks)", colony] + arguments
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let exited = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in exited.signal() }
        try process.run()
        // Read while it runs, so a full pipe cannot stall the child.
        let stdout = Shared(Data())
        let stderr = Shared(Data())
        let readers = DispatchGroup()
        for (pipe, sink) in [(out, stdout), (err, stderr)] {
            DispatchQueue.global().async(group: readers) {
                let data = pipe.fileHandleForReading.readDataToEndOfFile()
                sink.value.withLock { $0 = data }
            }
        }
        if exited.wait(timeout: .now() + deadline) == .timedOut {
            process.terminate()
            _ = exited.wait(timeout: .now() + 5)
            Issue.record("mpirun \(arguments.joined(separator: " ")) did not finish within \(Int(deadline)) s; killed")
        }
        _ = readers.wait(timeout: .now() + 5)
        return (
            process.terminationStatus,
            String(decoding: stdout.value.withLock { $0 }, as: UTF8.self),
            String(decoding: stderr.value.withLock { $0 }, as: UTF8.self)
        )
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
