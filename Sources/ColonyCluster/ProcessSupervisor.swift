import Foundation
import Synchronization

/// Child processes of one cluster on this host (`colony cluster up`): started together,
/// stopped together. The last one named is the one whose exit ends the whole group (the
/// router); another that exits is started again with the arguments `restart` gives (a
/// worker comes back as a spare when the cluster keeps spares, since one was promoted in
/// its place).
public final class ProcessSupervisor: Sendable {
    private struct Child {
        var name: String
        var arguments: [String]
        var process: Process
        /// Stopped on purpose (scaled down): not restarted, forgotten once it exits.
        var retired = false
    }

    private let children: Mutex<[Child]>
    private let router: Process
    private let stopping = Atomic<Bool>(false)
    private let restart: @Sendable (String, [String]) -> [String]?
    private let report: @Sendable (String) -> Void

    /// Starts this executable with each (name, arguments), in order; `report` gets a line
    /// for each thing a person should know (a stop, a child that exited, a restart).
    /// `restart` gets a child's name and last arguments when it exits, and returns the
    /// arguments to start it again with, or nil to leave it down.
    public init(
        _ specs: [(String, [String])], restart: @escaping @Sendable (String, [String]) -> [String]? = { _, _ in nil },
        report: @escaping @Sendable (String) -> Void
    ) throws {
        self.report = report
        self.restart = restart
        var started: [Child] = []
        for (name, arguments) in specs {
            do { started.append(Child(name: name, arguments: arguments, process: try Self.launch(arguments))) } catch {
                for c in started { c.process.terminate() }
                throw error
            }
        }
        router = started.last!.process
        children = Mutex(started)
    }

    private static func launch(_ arguments: [String]) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        p.arguments = arguments
        try p.run()
        return p
    }

    /// The process id of the child named `name` now.
    public func pid(of name: String) -> Int32? {
        children.withLock { $0.first { $0.name == name }?.process.processIdentifier }
    }

    /// Names of the children running now and not retired, the router last.
    public var running: [String] {
        children.withLock { $0.filter { $0.process.isRunning && !$0.retired }.map(\.name) }
    }

    /// Starts one more child, before the router in the list (the router stays last).
    public func add(_ name: String, _ arguments: [String]) throws {
        let p = try Self.launch(arguments)
        children.withLock { $0.insert(Child(name: name, arguments: arguments, process: p), at: $0.count - 1) }
        report("\(name) started as pid \(p.processIdentifier)")
    }

    /// Sends SIGTERM to the child `name` (a worker drains and exits) and does not restart it.
    public func retire(_ name: String) {
        let process = children.withLock { all -> Process? in
            guard let i = all.firstIndex(where: { $0.name == name }) else { return nil }
            all[i].retired = true
            return all[i].process
        }
        guard let process, process.isRunning else { return }
        process.terminate()
        report("\(name) stopping (drains, then exits)")
    }

    /// Sends SIGTERM to every child still running: each drains, then exits.
    public func stop() {
        guard !stopping.exchange(true, ordering: .relaxed) else { return }
        report("stopping the cluster")
        for c in children.withLock({ $0 }) where c.process.isRunning { c.process.terminate() }
    }

    /// Waits until the last child (the router) exits, restarting the others as they exit,
    /// then stops the rest and waits for them (killing any still running after 60 s).
    /// Returns the router's exit status, 0 when the cluster was stopped on purpose.
    public func wait() async -> Int32 {
        var reported: Set<String> = []
        var restarts: [String: [Date]] = [:]
        while router.isRunning {
            // Retired children that have exited are done with.
            children.withLock { $0.removeAll { $0.retired && !$0.process.isRunning } }
            for c in children.withLock({ $0.dropLast() })
            where !c.process.isRunning && !c.retired && !reported.contains(c.name) && !stopping.load(ordering: .relaxed) {
                let status = c.process.terminationStatus
                guard let arguments = restart(c.name, c.arguments) else {
                    reported.insert(c.name)
                    report("\(c.name) exited with status \(status); it is not restarted")
                    continue
                }
                // A child that dies as fast as it starts would loop forever: five in a minute is enough.
                let recent = restarts[c.name, default: []].filter { $0 > Date().addingTimeInterval(-60) }
                guard recent.count < 5 else {
                    reported.insert(c.name)
                    report("\(c.name) exited with status \(status), its 6th exit within a minute; it is not restarted again")
                    continue
                }
                restarts[c.name] = recent + [Date()]
                do {
                    let p = try Self.launch(arguments)
                    children.withLock { all in
                        if let i = all.firstIndex(where: { $0.name == c.name }) {
                            all[i] = Child(name: c.name, arguments: arguments, process: p)
                        }
                    }
                    report("\(c.name) exited with status \(status); restarted as pid \(p.processIdentifier)")
                } catch {
                    reported.insert(c.name)
                    report("\(c.name) exited with status \(status) and cannot be restarted: \(error)")
                }
            }
            try? await Task.sleep(for: .milliseconds(200))
        }
        let planned = stopping.load(ordering: .relaxed)
        stop()
        let deadline = Date().addingTimeInterval(60)
        while children.withLock({ $0.contains { $0.process.isRunning } }), Date() < deadline {
            try? await Task.sleep(for: .milliseconds(100))
        }
        for c in children.withLock({ $0 }) where c.process.isRunning { kill(c.process.processIdentifier, SIGKILL) }
        return planned ? 0 : (router.terminationStatus == 0 ? 1 : router.terminationStatus)
    }
}
