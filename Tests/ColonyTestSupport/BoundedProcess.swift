import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Runs a child process to its end or to a deadline, reading its output while it runs (so
/// a full pipe cannot stall it): for tests that launch `mpirun` and other long commands.
public enum BoundedProcess {
    public struct Result: Sendable {
        public let status: Int32
        public let stdout: String
        public let stderr: String
        /// The deadline passed and the process was killed.
        public let timedOut: Bool
    }

    /// Where OpenMPI's `mpirun` is installed, if it is (scripts/install-deps installs it).
    public static let mpirun = ["/usr/bin/mpirun", "/usr/local/bin/mpirun"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// Runs `executable arguments`; after `deadline` seconds it is SIGKILLed and
    /// `onTimeout` runs (to stop what it started elsewhere).
    public static func run(
        _ executable: String, _ arguments: [String], deadline: TimeInterval, onTimeout: () -> Void = {}
    ) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let (out, err) = (Pipe(), Pipe())
        process.standardOutput = out
        process.standardError = err
        let exited = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in exited.signal() }
        try process.run()
        let outputs = Mutex<[Data]>([Data(), Data()])
        let readers = DispatchGroup()
        for (i, pipe) in [out, err].enumerated() {
            DispatchQueue.global().async(group: readers) {
                let data = pipe.fileHandleForReading.readDataToEndOfFile()
                outputs.withLock { $0[i] = data }
            }
        }
        let timedOut = exited.wait(timeout: .now() + deadline) == .timedOut
        if timedOut {
            kill(process.processIdentifier, SIGKILL)
            onTimeout()
            _ = exited.wait(timeout: .now() + 5)
        }
        _ = readers.wait(timeout: .now() + 5)
        let (stdout, stderr) = outputs.withLock { ($0[0], $0[1]) }
        return Result(
            status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
            stderr: String(decoding: stderr, as: UTF8.self), timedOut: timedOut)
    }
}
