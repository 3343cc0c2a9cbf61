import ArgumentParser
import ColonyAgents
import ColonyBench
import ColonyCluster
import ColonyEngine
import ColonyHTTP
import ColonyRouting
import Foundation

struct AgentsSwarm: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swarm",
        abstract: "Run many agents at once over a JSONL file of tasks, with a live progress bar and a summary.",
        discussion: #"""
            Each line of --tasks is {"task": "...", "expected": "...", "priority": 0}; "expected" (optional) is text a \
            correct answer contains, "priority" (optional, an integer, larger is more urgent) orders the run's model \
            calls. The agents think with the local engine, an OpenAI-compatible --endpoint, or a Colony cluster \
            (--cluster ROUTER_URL), where each model call goes to the worker with the best score over live load, \
            recent time between tokens and the task's priority, and waits at the router, the most urgent first, \
            while every worker is full.
            """#
    )

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var storeOptions: StoreOptions

    @Option(name: .long, help: "Agent spec (YAML).")
    var spec: String

    @Option(name: .long, help: "Tasks, one JSON object per line.")
    var tasks: String

    @Option(name: .long, help: "Agents running at once.")
    var agents = 8

    @Option(name: .long, help: "Use this OpenAI-compatible endpoint (loopback) instead of the local engine.")
    var endpoint: String?

    @Option(name: .long, help: "A Colony router (loopback): model calls are placed on its workers by the cluster's score.")
    var cluster: String?

    @Option(name: .long, help: "Model id to request from --endpoint (default: 'default') or --cluster (default: the router's).")
    var endpointModel: String?

    func validate() throws {
        guard (1...1024).contains(agents) else { throw ValidationError("--agents must be between 1 and 1024, got \(agents)") }
        guard endpoint == nil || cluster == nil else {
            throw ValidationError("--endpoint and --cluster both name where the agents think; give one")
        }
        for url in [endpoint, cluster].compactMap(\.self) {
            do { _ = try HTTPClient.Endpoint(url: url) } catch { throw ValidationError(error.description) }
        }
    }

    func run() async throws {
        bootstrapLogging(verbose: modelOptions.verbose)
        let (_, specFile) = try readSpec(spec)
        let lines: [SwarmTask]
        do { lines = try SwarmTask.load(path: tasks) } catch let error as AgentError { throw ValidationError(error.description) }
        let store = try storeOptions.open()
        let client: any LLMClient
        var engine: Engine?
        if let endpoint {
            client = try OpenAIClient(url: endpoint, model: endpointModel ?? "default")
        } else if let cluster {
            client = try await Self.clusterClient(cluster, model: endpointModel)
        } else {
            var config = EngineConfiguration()
            config.maxBatch = min(64, agents)
            let local = try modelOptions.engineClient(config)
            engine = local.0
            client = local.1
        }
        let pool = try await AgentPool.start(
            specFile, client: client, backend: engine, store: store,
            workspace: storeOptions.workspace(for: "swarm"))
        let started = Date()
        let bar = ProgressBar(width: 30)
        let runs = await pool.swarm(lines.map(\.task), priorities: lines.map { $0.priority ?? 0 }, concurrency: agents) { done in
            writeErr(bar.line(done, of: lines.count, "\(done)/\(lines.count) runs"))
        }
        writeErr("\n")
        await pool.shutdown()
        let seconds = Date().timeIntervalSince(started)
        let summary = SwarmSummary(runs: runs, expected: lines.map(\.expected))
        if let path = storeOptions.trajectories {
            for t in SwarmTask.trajectories(of: runs, tasks: lines, agent: specFile.name) { try t.append(to: path) }
        }
        writeOut(summary.table(agents: agents, seconds: seconds) + SwarmSummary.priorityLines(runs: runs, tasks: lines))
    }

    /// A client of the router at `url` that asks for score placement, once the router has
    /// shown it is one and has a ready worker; `model` defaults to the one the router serves.
    private static func clusterClient(_ url: String, model: String?) async throws -> OpenAIClient {
        let router = try HTTPClient.Endpoint(url: url)
        let status: ClusterStatus
        do { status = try await Task.detached { try ClusterStatus.fetch(from: router) }.value } catch {
            throw ValidationError("--cluster: \(error)")
        }
        let ready = status.members.filter { $0.role == "active" && $0.state == .ready }.map(\.id)
        guard !ready.isEmpty else {
            throw ValidationError("--cluster: the router at \(url) has no ready worker yet; see 'colony cluster status --url \(url)'")
        }
        writeErr(
            "cluster: \(ready.count) ready worker\(ready.count == 1 ? "" : "s") (\(ready.joined(separator: ", "))), placement by score\n")
        let served = status.members.first { $0.role == "router" }?.model ?? "default"
        return try OpenAIClient(url: url, model: model ?? served, headers: ["x-colony-routing": RoutingStrategy.score.rawValue])
    }
}
