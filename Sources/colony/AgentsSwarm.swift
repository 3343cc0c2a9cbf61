import ArgumentParser
import ColonyAgents
import ColonyBench
import ColonyEngine
import Foundation

struct AgentsSwarm: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swarm",
        abstract: "Run many agents at once over a JSONL file of tasks, with a live progress bar and a summary.",
        discussion: #"Each line of --tasks is {"task": "...", "expected": "..."}; "expected" (optional) is text a correct answer contains."#
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

    @Option(name: .long, help: "Model id to request from --endpoint.")
    var endpointModel = "default"

    func validate() throws {
        guard (1...1024).contains(agents) else { throw ValidationError("--agents must be between 1 and 1024, got \(agents)") }
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
            client = try OpenAIClient(url: endpoint, model: endpointModel)
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
        let runs = await pool.swarm(lines.map(\.task), concurrency: agents) { done in
            writeErr(bar.line(done, of: lines.count, "\(done)/\(lines.count) runs"))
        }
        writeErr("\n")
        await pool.shutdown()
        let seconds = Date().timeIntervalSince(started)
        let summary = SwarmSummary(runs: runs, expected: lines.map(\.expected))
        if let path = storeOptions.trajectories {
            for t in SwarmTask.trajectories(of: runs, tasks: lines, agent: specFile.name) { try t.append(to: path) }
        }
        writeOut(summary.table(agents: agents, seconds: seconds))
    }
}
