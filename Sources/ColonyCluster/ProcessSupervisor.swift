import Foundation
import Synchronization

/// Child processes of one cluster on this host (`colony cluster up`): started together,
/// stopped together. The last one named is the one whose exit ends the whole group (the
/// router); others that exit are reported and left down (restarts come with cluster part 2).
public final class ProcessSupervisor: Sendable {
    private let children: [(name: String, process: Process)]
    private let stopping = Atomic<Bool>(false)
    private let report: @Sendable (String) -> Void

    /// Starts this executable with each (name, arguments), in order; `report` gets a line
    /// for each thing a person should know (a stop, a child that exited).
    public init(_ specs: [(String, [String])], report: @escaping @Sendable (String) -> Void) throws {
        self.report = report
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var started: [(String, Process)] = []
        for (name, arguments) in specs {
            let p = Process()
            p.executableURL = executable
            p.arguments = arguments
            do { try p.run() } catch {
                for (_, s) in started { s.terminate() }
                throw error
            }
            started.append((name, p))
        }
        children = started
    }

    /// Sends SIGTERM to every child still running: each drains, then exits.
    public func stop() {
        guard !stopping.exchange(true, ordering: .relaxed) else { return }
        report("stopping the cluster")
        for (_, p) in children where p.isRunning { p.terminate() }
    }

    /// Waits until the last child (the router) exits, then stops the rest and waits for
    /// them (killing any still running after 60 s). Returns the router's exit status, 0
    /// when the cluster was stopped on purpose.
    public func wait() async -> Int32 {
        var reported: Set<String> = []
        let router = children.last!.process
        while router.isRunning {
            for (name, p) in children.dropLast() where !p.isRunning && !reported.contains(name) && !stopping.load(ordering: .relaxed) {
                reported.insert(name)
                report("\(name) exited with status \(p.terminationStatus); it is not restarted")
            }
            try? await Task.sleep(for: .milliseconds(200))
        }
        let planned = stopping.load(ordering: .relaxed)
        stop()
        let deadline = Date().addingTimeInterval(60)
        while children.contains(where: { $0.process.isRunning }), Date() < deadline { try? await Task.sleep(for: .milliseconds(100)) }
        for (_, p) in children where p.isRunning { kill(p.processIdentifier, SIGKILL) }
        return planned ? 0 : (router.terminationStatus == 0 ? 1 : router.terminationStatus)
    }
}
