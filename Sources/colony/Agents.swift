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
    @Option(name: .long, help: "SQLite database of runs, steps and memories.")
    var db = ".colony/colony.sqlite"

    @Option(name: .long, help: "Append each finished run's trajectory to this JSONL file.")
    var trajectories: String?

    func open() throws -> SQLiteStore {
        let dir = (db as NSString).deletingLastPathComponent
        if !dir.isEmpty { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        return try SQLiteStore(path: db)
    }

    func workspace(for run: String) -> URL {
        URL(fileURLWithPath: (db as NSString).deletingLastPathComponent).appendingPathComponent("workspaces/\(run)")
    }
}

/// The text and parsed form of an agent spec file.
func readSpec(_ path: String) throws -> (String, AgentSpecFile) {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw ValidationError("cannot read spec '\(path)'") }
    return (text, try AgentSpecFile.parse(text))
}

/// An agent with what it runs on: the engine it thinks with and the MCP servers it calls.
struct AgentSetup {
    let agent: Agent
    let engine: Engine
    let mcpServers: [MCPServer]

    /// Loads the model, starts the engine and the spec's MCP servers.
    init(_ specFile: AgentSpecFile, modelOptions: ModelOptions, store: SQLiteStore, workspace: URL) async throws {
        let servers = try await launchMCPServers(specFile)
        do {
            let (model, tokenizer) = try modelOptions.loadModel()
            engine = try Engine(model: model, tokenizer: tokenizer)
            let client = EngineClient(engine: engine, template: try ChatTemplate(gguf: model.file))
            var tools: [any Tool] = []
            for server in servers { tools += try await server.tools() }
            agent = Agent(spec: try specFile.agentSpec(store: store, workspace: workspace, extraTools: tools), client: client)
            mcpServers = servers
        } catch {
            for server in servers { await server.shutdown() }
            throw error
        }
    }

    func shutdown() async {
        await engine.shutdown()
        for server in mcpServers { await server.shutdown() }
    }
}

/// Starts every MCP server a spec names; none is left running when one fails.
func launchMCPServers(_ specFile: AgentSpecFile) async throws -> [MCPServer] {
    var servers: [MCPServer] = []
    for config in specFile.mcpServers {
        do {
            servers.append(try await MCPServer.launch(config))
        } catch {
            for server in servers { await server.shutdown() }
            throw error
        }
    }
    return servers
}

func report(_ run: AgentRun, task: String, agent: String, storeOptions: StoreOptions) throws {
    writeErr("run \(run.id): \(run.finish.rawValue) after \(run.steps.count) step\(run.steps.count == 1 ? "" : "s")\n")
    writeOut((run.answer ?? "(no answer)") + "\n")
    if let path = storeOptions.trajectories { try Trajectory(run: run, agent: agent, task: task, reward: nil).append(to: path) }
}

struct AgentsRun: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "Run an agent on a task; every step is stored before it takes effect.")

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
        let setup = try await AgentSetup(specFile, modelOptions: modelOptions, store: store, workspace: storeOptions.workspace(for: id))
        writeErr("run \(id) started (resume it with: colony agents resume \(id) --db \(storeOptions.db))\n")
        let run: AgentRun
        do {
            run = try await setup.agent.run(task: task, id: id, store: store, specText: text)
        } catch {
            await setup.shutdown()
            throw error
        }
        await setup.shutdown()
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
        guard let record = try await store.run(id: runID) else { throw ValidationError("there is no run '\(runID)' in \(storeOptions.db)") }
        guard let text = record.spec else { throw ValidationError("run '\(runID)' has no stored spec") }
        let specFile = try AgentSpecFile.parse(text)
        let setup = try await AgentSetup(specFile, modelOptions: modelOptions, store: store, workspace: storeOptions.workspace(for: runID))
        let run: AgentRun
        do {
            run = try await setup.agent.resume(id: runID, store: store)
        } catch {
            await setup.shutdown()
            throw error
        }
        await setup.shutdown()
        try report(run, task: record.task, agent: record.agent, storeOptions: storeOptions)
    }
}

struct AgentsShow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Print a stored run's trajectory, step by step.")

    @OptionGroup var storeOptions: StoreOptions

    @Argument(help: "The run id.")
    var runID: String

    func run() async throws {
        let store = try storeOptions.open()
        guard let record = try await store.run(id: runID) else { throw ValidationError("there is no run '\(runID)' in \(storeOptions.db)") }
        var out = "run \(record.id) — agent \(record.agent), \(record.status)\ntask: \(record.task)\n"
        for step in try await store.steps(runID: runID) {
            let calls = (try? JSONDecoder().decode([ToolCall].self, from: Data(step.callsJSON.utf8))) ?? []
            let results = (try? JSONDecoder().decode([String].self, from: Data(step.resultsJSON.utf8))) ?? []
            out += "\nstep \(step.index + 1) (\(step.promptTokens) prompt + \(step.completionTokens) completion tokens)\n"
            for (call, result) in zip(calls, results) { out += "  \(call.name) \(call.arguments)\n    → \(result)\n" }
        }
        for pending in try await store.pendingCalls(runID: runID) {
            out += "\nstep \(pending.step + 1) interrupted: \(pending.name) \(pending.arguments) (outcome unknown)\n"
        }
        out += "\nanswer: \(record.answer ?? "(none yet)")\n"
        writeOut(out)
    }
}

struct AgentsEval: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Run the built-in task suite (arithmetic that needs the calculator, facts saved then recalled, a task delegated to a worker agent) and report the success rate.")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var storeOptions: StoreOptions

    @Option(name: .long, help: "Steps an agent may take per task.")
    var maxSteps = 4

    func run() async throws {
        bootstrapLogging(verbose: modelOptions.verbose)
        let store = try storeOptions.open()
        let (model, tokenizer) = try modelOptions.loadModel()
        let engine = try Engine(model: model, tokenizer: tokenizer)
        let client = EngineClient(engine: engine, template: try ChatTemplate(gguf: model.file))
        var solved = 0, steps = 0, tokens = 0
        let started = Date()
        for task in TaskSuite.tasks {
            let result = try await TaskSuite.run(task, client: client, store: store, maxSteps: maxSteps)
            steps += result.runs.reduce(0) { $0 + $1.steps.count }
            tokens += result.runs.reduce(0) { $0 + $1.steps.reduce(0) { $0 + $1.promptTokens + $1.completionTokens } }
            solved += Int(result.reward)
            if let path = storeOptions.trajectories {
                try Trajectory(run: result.graded, agent: task.name, task: task.prompts.last!, reward: result.reward).append(to: path)
            }
            writeOut("\(result.reward == 1 ? "✔" : "✘") \(task.name.padding(toLength: 12, withPad: " ", startingAt: 0)) answer: \((result.graded.answer ?? "(none)").prefix(60).replacingOccurrences(of: "\n", with: " "))\n")
        }
        await engine.shutdown()
        let seconds = Date().timeIntervalSince(started)
        writeOut(String(format: "success %d/%d (%.0f%%), %d steps, %d tokens, %.1f steps/s, %.0f tokens/s\n",
                        solved, TaskSuite.tasks.count, 100 * Double(solved) / Double(TaskSuite.tasks.count), steps, tokens,
                        Double(steps) / seconds, Double(tokens) / seconds))
    }
}

struct AgentsSwarm: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swarm",
        abstract: "Run many agents at once over a JSONL file of tasks, with a live progress bar and a summary.",
        discussion: #"Each line of --tasks is {"task": "...", "expected": "..."}; "expected" (optional) is text a correct answer contains."#)

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

    struct Line: Decodable { let task: String; let expected: String? }

    func validate() throws {
        guard (1...1024).contains(agents) else { throw ValidationError("--agents must be between 1 and 1024, got \(agents)") }
    }

    func run() async throws {
        bootstrapLogging(verbose: modelOptions.verbose)
        let (text, specFile) = try readSpec(spec)
        guard let taskText = try? String(contentsOfFile: tasks, encoding: .utf8) else { throw ValidationError("cannot read tasks '\(tasks)'") }
        var lines: [Line] = []
        for (n, raw) in taskText.split(separator: "\n", omittingEmptySubsequences: false).enumerated() where !raw.trimmingCharacters(in: .whitespaces).isEmpty {
            guard let line = try? JSONDecoder().decode(Line.self, from: Data(raw.utf8)) else {
                throw ValidationError("\(tasks):\(n + 1): expected {\"task\": \"...\", \"expected\": \"...\"}")
            }
            lines.append(line)
        }
        guard !lines.isEmpty else { throw ValidationError("\(tasks) holds no tasks") }
        let store = try storeOptions.open()
        let client: any LLMClient
        var engine: Engine?
        if let endpoint {
            client = try OpenAIClient(url: endpoint, model: endpointModel)
        } else {
            let (model, tokenizer) = try modelOptions.loadModel()
            var config = EngineConfiguration()
            config.maxBatch = min(64, agents)
            engine = try Engine(model: model, tokenizer: tokenizer, configuration: config)
            client = EngineClient(engine: engine!, template: try ChatTemplate(gguf: model.file))
        }
        let mcpServers = try await launchMCPServers(specFile)
        var mcpTools: [any Tool] = []
        for server in mcpServers { mcpTools += try await server.tools() }
        let agentSpec = try specFile.agentSpec(store: store, workspace: storeOptions.workspace(for: "swarm"), extraTools: mcpTools)
        let prompts = lines.map(\.task)
        let started = Date()
        var runs: [(Int, AgentRun?)] = []
        try await withThrowingTaskGroup(of: (Int, AgentRun?).self) { group in
            var next = 0
            func start() {
                let i = next
                next += 1
                group.addTask { (i, try? await Agent(spec: agentSpec, client: client).run(task: prompts[i], store: store)) }
            }
            while next < min(agents, lines.count) { start() }
            for try await result in group {
                runs.append(result)
                let done = runs.count, width = 30
                let filled = width * done / lines.count
                writeErr("\r[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] \(done)/\(lines.count) runs")
                if next < lines.count { start() }
            }
        }
        writeErr("\n")
        await engine?.shutdown()
        for server in mcpServers { await server.shutdown() }
        let seconds = Date().timeIntervalSince(started)
        let finished = runs.compactMap(\.1)
        let graded = runs.filter { lines[$0.0].expected != nil }
        let solved = graded.filter { i, run in SuiteTask.reward(run?.answer, expected: lines[i].expected!) == 1 }.count
        let stepTimes = finished.flatMap { $0.steps.map(\.seconds) }.sorted()
        let steps = stepTimes.count
        let tokens = finished.reduce(0) { $0 + $1.steps.reduce(0) { $0 + $1.promptTokens + $1.completionTokens } }
        func pct(_ q: Double) -> Double { stepTimes.isEmpty ? 0 : stepTimes[min(stepTimes.count - 1, Int(q * Double(stepTimes.count - 1)))] * 1000 }
        if let path = storeOptions.trajectories {
            for (i, run) in runs { if let run { try Trajectory(run: run, agent: specFile.name, task: lines[i].task, reward: lines[i].expected.map { SuiteTask.reward(run.answer, expected: $0) }).append(to: path) } }
        }
        writeOut(String(format: """
            runs            %d (%d failed), %d agents at once, %.1f s
            success         %@
            steps           %d (%.1f steps/s), step latency p50 %.0f ms, p99 %.0f ms
            tokens          %d (%.0f tokens/s)

            """, runs.count, runs.count - finished.count, agents, seconds,
            graded.isEmpty ? "n/a (no expected answers)" : "\(solved)/\(graded.count) (\(Int((100 * Double(solved) / Double(graded.count)).rounded()))%)",
            steps, Double(steps) / seconds, pct(0.5), pct(0.99), tokens, Double(tokens) / seconds))
    }
}
