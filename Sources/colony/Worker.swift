import ArgumentParser
import ColonyCluster
import ColonyEngine
import ColonyRouting
import Foundation

struct Worker: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the model's engine over gRPC to a Colony router.",
        discussion: """
            Streams token ids, takes cancellations, reports its load and publishes exact KV-cache events. \
            With --discovery it lists itself there while it runs (in etcd under a lease of a few seconds, kept \
            alive by a thread of its own; if etcd says the lease is gone it stops serving and exits with an error, \
            while an unreachable etcd is waited out). A spare is loaded and warm but not routed to until a router \
            promotes it. SIGTERM (or Ctrl-C) drains: it stops admitting, finishes what is in flight (up to \
            --drain-timeout seconds) and ends the rest with UNAVAILABLE, which a router answers by moving them to \
            another worker, where they go on from their last token.
            """
    )

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var engineOptions: EngineOptions

    @Option(name: .long, help: "Address to listen on and advertise.")
    var host = "127.0.0.1"

    @Option(name: .long, help: "gRPC port (0 picks a free one).")
    var port = 0

    @Option(name: .long, help: "This worker's id, unique in the cluster (default: worker-PID).")
    var id: String?

    @Option(name: .long, help: "active (routed to) or spare (warm, not routed to).")
    var role = "active"

    @Option(name: .long, help: "Where to list this worker: file:PATH (a JSON list on this host) or etcd://HOST:PORT[,HOST:PORT…].")
    var discovery: String?

    @Option(name: .long, help: "Model id requests must use (default: the file name).")
    var modelName: String?

    @Option(name: .long, help: "Seconds a drain waits for requests in flight before cancelling them.")
    var drainTimeout = 30.0

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535, got \(port)") }
        guard ClusterMember.Role(rawValue: role) != nil else { throw ValidationError("--role must be active or spare, got '\(role)'") }
        if let id, id.isEmpty || id.contains(where: \.isWhitespace) {
            throw ValidationError("--id must be non-empty without spaces, got '\(id)'")
        }
        if let discovery { do { _ = try openDiscovery(discovery) } catch { throw ValidationError(error.description) } }
        guard drainTimeout >= 0 else { throw ValidationError("--drain-timeout must be ≥ 0, got \(drainTimeout)") }
    }

    func run() async throws {
        bootstrapLogging(verbose: modelOptions.verbose)
        let (model, tokenizer) = try modelOptions.loadModel()
        var config = engineOptions.configuration
        config.publishesKVEvents = true
        let engine = try Engine(model: model, tokenizer: tokenizer, configuration: config)
        let identity = WorkerIdentity(
            id: id ?? "worker-\(ProcessInfo.processInfo.processIdentifier)", role: ClusterMember.Role(rawValue: role)!,
            model: modelOptions.servedName(modelName), modelDigest: try ModelDigest.of(path: modelOptions.modelPath))
        let node = WorkerNode(
            engine: engine, identity: identity, discovery: try discovery.map(openDiscovery), host: host, port: port,
            drainTimeout: .milliseconds(Int(drainTimeout * 1000)))
        let signals = onTermination { Task { await node.drain() } }
        defer { for s in signals { s.cancel() } }
        try await node.run { bound in
            writeErr("colony: worker '\(identity.id)' (\(role)) serving '\(identity.model)' on \(host):\(bound)\n")
        }
    }
}

/// Calls `handler` on SIGTERM and SIGINT instead of dying; keep the sources while it should.
func onTermination(_ handler: @escaping @Sendable () -> Void) -> [DispatchSourceSignal] {
    [SIGTERM, SIGINT].map { number in
        signal(number, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
        source.setEventHandler(handler: handler)
        source.resume()
        return source
    }
}
