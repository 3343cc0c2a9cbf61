import ArgumentParser
import ColonyCluster
import ColonyModels
import ColonyRouting
import ColonyServer
import Foundation

struct Router: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the OpenAI-compatible API over Colony workers, routing each request.",
        discussion: """
            The same endpoints as 'colony serve', plus GET /v1/cluster (every member and its load). It loads the \
            model's tokenizer and chat template (not its weights) so it hashes prompts as the workers do, and \
            refuses workers that serve another model file. Routing: kv (default; cost = α·uncached prompt \
            blocks + active blocks, with session affinity by 'user' or x-session-id and an imbalance guard), \
            least-load, round-robin, or score (0.6·(1−load) + 0.3·(1−latency) + 0.1·priority over workers with room, \
            load being running + waiting over the worker's batch and latency its recent time between tokens; when \
            every worker is full, requests wait at the router, higher 'priority' first, aging so none starves). \
            A request may ask for a strategy with an x-colony-routing header. A worker that fails (its connection breaks, it stops answering, its \
            stream stalls) leaves routing at once; its requests move to another worker and go on from their last \
            token, at most --migration-limit times each. A failed active is replaced by a ready spare after \
            --dead-after seconds.
            """
    )

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var frontDoor: FrontDoorOptions

    @Option(name: .long, help: "Where the workers are listed: file:PATH or etcd://HOST:PORT[,HOST:PORT…].")
    var discovery: String

    @Option(name: .long, help: "kv, least-load, round-robin or score (a request may ask for another with an x-colony-routing header).")
    var routing = "kv"

    @Option(name: .long, help: "Weight α of an uncached prompt block against an active block (kv routing).")
    var kvAlpha = 1.0

    @Option(name: .long, help: "How many times one request may move to another worker after its worker failed.")
    var migrationLimit = 3

    @Option(name: .long, help: "Seconds a suspect worker stays silent before it is dead and a spare is promoted.")
    var deadAfter = 2.0

    func validate() throws {
        guard (0...16).contains(migrationLimit) else {
            throw ValidationError("--migration-limit must be between 0 and 16, got \(migrationLimit)")
        }
        guard deadAfter.isFinite, deadAfter > 0, deadAfter <= 3600 else {
            throw ValidationError("--dead-after must be more than 0 and at most 3600 seconds, got \(deadAfter)")
        }
        guard RoutingStrategy(rawValue: routing) != nil else {
            throw ValidationError(
                "--routing must be one of \(RoutingStrategy.allCases.map(\.rawValue).joined(separator: ", ")), got '\(routing)'")
        }
        guard kvAlpha.isFinite, kvAlpha >= 0 else { throw ValidationError("--kv-alpha must be ≥ 0, got \(kvAlpha)") }
        do { _ = try openDiscovery(discovery) } catch { throw ValidationError(error.description) }
    }

    func run() async throws {
        bootstrapLogging(verbose: modelOptions.verbose)
        try modelOptions.requireWholeModel()
        let file = try ModelOptions.open(modelOptions.model)
        let tokenizer = try Tokenizer(gguf: file)
        let name = modelOptions.servedName(frontDoor.modelName)
        var config = RouterConfiguration(model: name, modelDigest: try ModelDigest.of(path: modelOptions.modelPath))
        config.routing = RoutingPolicy(strategy: RoutingStrategy(rawValue: routing)!, kvAlpha: kvAlpha)
        config.address = "\(frontDoor.host):\(frontDoor.port)"
        config.migrationLimit = migrationLimit
        config.deadAfter = .milliseconds(Int64(deadAfter * 1000))
        let backend = RoutedBackend(
            tokenizer: tokenizer, contextLength: try LlamaConfiguration(gguf: file).contextLength, configuration: config,
            discovery: try openDiscovery(discovery))
        var server = OpenAIServer(
            engine: backend, modelName: name, template: try TemplateOptions.template(named: frontDoor.chatTemplate, gguf: file),
            apiKey: try frontDoor.resolvedKey())
        server.statusRoutes["/v1/cluster"] = { try JSONEncoder().encode(backend.clusterStatus) }
        server.toolFormat = TemplateOptions.toolFormat(gguf: file)
        server.modelVersion = modelOptions.version
        try await server.run(host: frontDoor.host, port: frontDoor.port) { bound in
            writeErr("colony: routing '\(name)' (\(routing)) on http://\(frontDoor.host):\(bound), workers from \(discovery)\n")
        }
    }
}
