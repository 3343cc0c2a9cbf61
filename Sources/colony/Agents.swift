import ArgumentParser
import ColonyAgents
import ColonyEngine
import ColonyHTTP
import ColonyModels
import ColonyStore
import Foundation

struct Agents: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run agents on the local engine: durable runs that survive a crash, readable trajectories.",
        subcommands: [AgentsRun.self, AgentsResume.self, AgentsShow.self, AgentsEval.self, AgentsSwarm.self]
    )
}

/// Where runs are stored and what they export.
struct StoreOptions: ParsableArguments {
    @Option(
        name: [.long, .customLong("db")],
        help: "Runs, steps and memories: a SQLite file or postgres://user@host:port/db (default: $COLONY_STORE or .colony/colony.sqlite).")
    var store: String?

    @Option(name: .long, help: "Append each finished run's trajectory to this JSONL file.")
    var trajectories: String?

    /// The store's location as given or defaulted.
    var location: String { StoreLocation.resolve(store) }

    func open() throws -> AnyStore { try StoreLocation.open(location) }

    /// A run's files: beside a SQLite store, else under .colony/.
    func workspace(for run: String) -> URL {
        let base = StoreLocation.isPostgres(location) ? ".colony" : (location as NSString).deletingLastPathComponent
        return URL(fileURLWithPath: base).appendingPathComponent("workspaces/\(run)")
    }
}

/// The text and parsed form of an agent spec file; an unreadable file is a usage error.
func readSpec(_ path: String) throws -> (text: String, spec: AgentSpecFile) {
    do { return try AgentSpecFile.load(path: path) } catch AgentError.cannotRead(let what, let path) {
        throw ValidationError(AgentError.cannotRead(what: what, path: path).description)
    }
}

extension ModelOptions {
    /// Loads the model and starts an engine over it, with the client agents talk to it through.
    func engineClient(_ configuration: EngineConfiguration = EngineConfiguration()) throws -> (Engine, EngineClient) {
        let (model, tokenizer) = try loadModel()
        let engine = try Engine(model: model, tokenizer: tokenizer, configuration: configuration)
        return (engine, EngineClient(engine: engine, template: try ChatTemplate(gguf: model.file)))
    }

    /// An agent pool over a fresh local engine.
    func agentPool(_ specFile: AgentSpecFile, store: AnyStore, workspace: URL) async throws -> AgentPool {
        let (engine, client) = try engineClient()
        return try await AgentPool.start(specFile, client: client, backend: engine, store: store, workspace: workspace)
    }
}

func report(_ run: AgentRun, task: String, agent: String, storeOptions: StoreOptions) throws {
    writeErr("run \(run.id): \(run.finish.rawValue) after \(run.steps.count) step\(run.steps.count == 1 ? "" : "s")\n")
    writeOut((run.answer ?? "(no answer)") + "\n")
    if let path = storeOptions.trajectories { try Trajectory(run: run, agent: agent, task: task, reward: nil).append(to: path) }
}

struct AgentsRun: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Run an agent on a task; every step is stored before it takes effect.")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var storeOptions: StoreOptions

    @Option(name: .long, help: "Agent spec (YAML).")
    var spec: String

    @Option(name: .long, help: "The task.")
    var task: String

    @Option(name: .long, help: "Run id (default: a new UUID).")
    var runID: String?

    func run() async throws {
        bootstrapLogging(verbose: modelOptions.verbose)
        let (text, specFile) = try readSpec(spec)
        let store = try storeOptions.open()
        let id = runID ?? UUID().uuidString.lowercased()
        let pool = try await modelOptions.agentPool(specFile, store: store, workspace: storeOptions.workspace(for: id))
        writeErr("run \(id) started (resume it with: colony agents resume \(id) --store \(storeOptions.location))\n")
        let run = try await pool.closing { try await $0.agent().run(task: task, id: id, store: store, specText: text) }
        try report(run, task: task, agent: specFile.name, storeOptions: storeOptions)
    }
}

struct AgentsResume: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "resume", abstract: "Continue a stored run from its last completed step.")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var storeOptions: StoreOptions

    @Argument(help: "The run id.")
    var runID: String

    func run() async throws {
        bootstrapLogging(verbose: modelOptions.verbose)
        let store = try storeOptions.open()
        guard let record = try await store.run(id: runID) else {
            throw ValidationError("there is no run '\(runID)' in \(storeOptions.location)")
        }
        guard let text = record.spec else { throw ValidationError("run '\(runID)' has no stored spec") }
        let specFile = try AgentSpecFile.parse(text)
        let pool = try await modelOptions.agentPool(specFile, store: store, workspace: storeOptions.workspace(for: runID))
        let run = try await pool.closing { try await $0.agent().resume(id: runID, store: store) }
        try report(run, task: record.task, agent: record.agent, storeOptions: storeOptions)
    }
}
