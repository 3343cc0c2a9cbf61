import ArgumentParser
import ColonyCluster
import ColonyHTTP
import ColonyRouting
import Foundation

struct Cluster: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a Colony cluster on this machine, or show a cluster's members.",
        subcommands: [ClusterUp.self, ClusterStatusCommand.self]
    )
}

struct ClusterUp: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "up",
        abstract: "Start a router and N workers (plus spares) as child processes, with file discovery.",
        discussion: """
            The router serves the OpenAI API on --port; workers take free gRPC ports and list themselves in the \
            discovery file. Without --threads each worker gets an equal share of the cores. When an active worker \
            fails, the router moves its requests to the others and promotes a spare; a worker process that exits \
            is started again (as a spare when there are spares). With --autoscale MIN:MAX a controller keeps \
            the router's queue per ready worker near --target-queue: after --scale-up-delay seconds of a longer \
            queue it promotes spares, then starts workers; after --scale-down-delay seconds of a shorter one it \
            drains the idlest (their requests move, none fails). --workers is clamped into the range. SIGTERM or \
            Ctrl-C drains and stops them all.
            """
    )

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var engineOptions: EngineOptions

    @Option(name: .long, help: "Active workers.")
    var workers = 2

    @Option(name: .long, help: "Spare workers: loaded and warm, not routed to.")
    var spares = 0

    @Option(name: .long, help: "The router's HTTP port.")
    var port = 8080

    @Option(name: .long, help: "Address the router and workers listen on.")
    var host = "127.0.0.1"

    @Option(name: .long, help: "kv, least-load, round-robin or score (a request may ask for another with an x-colony-routing header).")
    var routing = "kv"

    @Option(name: .long, help: "The discovery file (default: a new one in the temporary directory).")
    var discoveryFile: String?

    @Option(
        name: .long,
        help: "MIN:MAX — start and stop workers to keep the router's queue per ready worker near --target-queue (spares count toward MAX)."
    )
    var autoscale: String?

    @Option(name: .long, help: "Requests waiting per ready worker that autoscaling aims for.")
    var targetQueue = 4.0

    @Option(name: .long, help: "Seconds the queue must ask for more workers before one starts.")
    var scaleUpDelay = 30.0

    @Option(name: .long, help: "Seconds the queue must ask for fewer workers before one stops (it drains first).")
    var scaleDownDelay = 600.0

    @Option(name: .long, help: "Append the autoscaler's view each second to this CSV (seconds, queue, ready, loading, desired).")
    var autoscaleLog: String?

    /// `--autoscale MIN:MAX`, parsed.
    var bounds: ClosedRange<Int>? {
        guard let autoscale else { return nil }
        let parts = autoscale.split(separator: ":").map { Int($0) }
        guard parts.count == 2, let low = parts[0], let high = parts[1], low >= 1, high >= low, high <= 64 else { return nil }
        return low...high
    }

    func validate() throws {
        guard (1...64).contains(workers) else { throw ValidationError("--workers must be between 1 and 64, got \(workers)") }
        guard (0...64).contains(spares) else { throw ValidationError("--spares must be between 0 and 64, got \(spares)") }
        guard (1...65535).contains(port) else { throw ValidationError("--port must be between 1 and 65535, got \(port)") }
        guard RoutingStrategy(rawValue: routing) != nil else {
            throw ValidationError(
                "--routing must be one of \(RoutingStrategy.allCases.map(\.rawValue).joined(separator: ", ")), got '\(routing)'")
        }
        if let autoscale {
            guard let bounds else {
                throw ValidationError("--autoscale must be MIN:MAX with 1 ≤ MIN ≤ MAX ≤ 64, got '\(autoscale)'")
            }
            guard spares < bounds.upperBound else {
                throw ValidationError(
                    "--spares (\(spares)) count toward the --autoscale maximum (\(bounds.upperBound)); leave room for an active")
            }
            guard targetQueue > 0, targetQueue.isFinite else { throw ValidationError("--target-queue must be > 0, got \(targetQueue)") }
            for (name, value) in [("--scale-up-delay", scaleUpDelay), ("--scale-down-delay", scaleDownDelay)] {
                guard value >= 0, value <= 86400 else { throw ValidationError("\(name) must be between 0 and 86400 seconds, got \(value)") }
            }
        }
        guard FileManager.default.fileExists(atPath: modelOptions.modelPath) else {
            throw ValidationError("no model at \(modelOptions.modelPath): run ./scripts/setup or pass --model PATH")
        }
        try modelOptions.requireWholeModel()
    }

    func run() async throws {
        let file = discoveryFile ?? NSTemporaryDirectory() + "colony-cluster-\(ProcessInfo.processInfo.processIdentifier).json"
        try Data("[]".utf8).write(to: URL(fileURLWithPath: file))
        let spares = spares
        let initial = bounds.map { min(max(workers, $0.lowerBound), $0.upperBound - spares) } ?? workers
        var model = modelOptions
        if model.threads == nil { model.threads = max(1, ProcessInfo.processInfo.activeProcessorCount / (initial + spares)) }
        let shared = model.arguments + ["--host", host, "--discovery", "file:" + file]
        var specs: [(String, [String])] = []
        for i in 1...initial {
            specs.append(("worker-\(i)", ["worker", "--id", "worker-\(i)", "--role", "active"] + shared + engineOptions.arguments))
        }
        for i in stride(from: 1, through: spares, by: 1) {
            specs.append(("spare-\(i)", ["worker", "--id", "spare-\(i)", "--role", "spare"] + shared + engineOptions.arguments))
        }
        specs.append(("router", ["router", "--port", "\(port)", "--routing", routing] + shared))
        // A worker that dies is started again; with spares it comes back as one, because the
        // router promoted a spare in its place.
        let supervisor = try ProcessSupervisor(
            specs,
            restart: { name, arguments in
                guard name != "router", let i = arguments.firstIndex(of: "--role") else { return nil }
                var again = arguments
                if spares > 0 { again[i + 1] = "spare" }
                return again
            },
            report: { writeErr("colony: \($0)\n") })
        let signals = onTermination { supervisor.stop() }
        defer { for s in signals { s.cancel() } }
        var controller: Task<Void, Never>?
        if let bounds {
            let extra = engineOptions.arguments
            let autoscaler = try Autoscaler(
                supervisor: supervisor, router: try HTTPClient.Endpoint(url: "http://\(host):\(port)"), timeline: autoscaleLog
            ) { id in ["worker", "--id", id, "--role", "active"] + shared + extra }
            let policy = AutoscalePolicy(
                minReplicas: bounds.lowerBound, maxReplicas: bounds.upperBound, targetQueue: targetQueue,
                upDelay: .milliseconds(Int64(scaleUpDelay * 1000)), downDelay: .milliseconds(Int64(scaleDownDelay * 1000)))
            controller = Task { await autoscaler.run(policy) }
        }
        defer { controller?.cancel() }
        writeErr("colony: cluster of \(initial) workers and \(spares) spares; router on http://\(host):\(port); members in \(file)\n")
        let code = await supervisor.wait()
        try? FileManager.default.removeItem(atPath: file)
        try? FileManager.default.removeItem(atPath: file + ".lock")
        if code != 0 { throw ExitCode(code) }
    }
}

struct ClusterStatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Show every member of a cluster, as its router sees it.")

    @Option(name: .long, help: "The router's base URL.")
    var url = "http://127.0.0.1:8080"

    @Flag(name: .long, help: #"Print {"members": [...]} as JSON instead of a table."#)
    var json = false

    func validate() throws {
        do { _ = try HTTPClient.Endpoint(url: url) } catch { throw ValidationError(error.description) }
    }

    func run() throws {
        let status: ClusterStatus
        do { status = try ClusterStatus.fetch(from: try HTTPClient.Endpoint(url: url)) } catch { throw ValidationError("\(error)") }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            writeOut(String(decoding: try encoder.encode(status), as: UTF8.self) + "\n")
            return
        }
        let rows = status.members.map { m in
            [
                m.id, m.role, m.state.rawValue, m.pid.map(String.init) ?? "-", m.address, "\(m.running)", "\(m.waiting)",
                m.capacity > 0 ? "\(m.capacity)" : "-", m.kvBlocksTotal > 0 ? "\(m.kvBlocksUsed)/\(m.kvBlocksTotal)" : "-",
                m.interTokenSeconds > 0 ? String(format: "%.1f", m.interTokenSeconds * 1000) : "-", m.detail ?? "",
            ]
        }
        writeOut(
            textTable(
                header: ["ID", "ROLE", "STATE", "PID", "ADDRESS", "RUNNING", "WAITING", "BATCH", "KV BLOCKS", "ITL MS", "DETAIL"],
                rows: rows))
    }
}
