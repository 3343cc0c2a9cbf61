import ColonyAgents
import ColonyEngine
import ColonyModels
import ColonyStore
import Foundation

/// What the agent runtime costs on top of the engine, in four phases over the same
/// arithmetic tasks (every agent with the calculator and a durable SQLite store):
/// 1. the agents run once, recording every model request;
/// 2. the engine alone replays exactly those requests, `agents` sequences at once;
/// 3. the agents run again (the model is greedy, so they make the same requests);
/// 4. the agents run against an instant model replaying the recorded replies, which
///    leaves only the runtime's own cost per step.
/// Phases 2 and 3 both find the prefix cache warm from phase 1.
public struct AgentsBench: Sendable {
    /// Agents running at once.
    public var agents: Int
    /// Tasks in all (each agent takes the next task when it finishes one).
    public var tasks: Int
    public var maxSteps: Int
    public var maxTokensPerStep: Int

    public init(agents: Int = 64, tasks: Int = 64, maxSteps: Int = 3, maxTokensPerStep: Int = 48) {
        self.agents = agents
        self.tasks = tasks
        self.maxSteps = maxSteps
        self.maxTokensPerStep = maxTokensPerStep
    }

    /// Runs the four phases on an engine over `model`; `onPhase` hears each phase's name as it starts.
    public func run(model: LlamaModel, tokenizer: Tokenizer, onPhase: (String) -> Void = { _ in }) async throws -> AgentsBenchReport {
        var config = EngineConfiguration()
        config.maxBatch = agents
        // Room for every agent's whole conversation, so no phase pays for preemption.
        config.kvBlocks = max(1024, agents * (2048 / config.blockSize))
        config.maxQueue = max(config.maxQueue, agents * 2)
        let engine = try Engine(model: model, tokenizer: tokenizer, configuration: config)
        let client = EngineClient(engine: engine, template: try ChatTemplate(gguf: model.file))
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("colony-bench-agents-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try SQLiteStore(path: dir.appendingPathComponent("runs.sqlite").path)
        let prompts = (0..<tasks).map { i in "What is \(12 + i * 7) * \(3 + i % 9)?" }

        onPhase("1/4 agents, recording requests")
        let recorders = prompts.map { _ in RecordingClient(client) }
        let first = try await runAgents(prompts, clients: recorders, store: store)

        onPhase("2/4 engine alone, replaying \(recorders.reduce(0) { $0 + $1.requests.count }) requests")
        let engineAlone = try await replay(recorders.map(\.requests), client: client)

        onPhase("3/4 agents again")
        let second = try await runAgents(prompts, clients: prompts.map { _ in client }, store: store)

        onPhase("4/4 agents on an instant model")
        let instant = try await runAgents(prompts, clients: recorders.map { ReplayClient($0.replies) }, store: store)
        await engine.shutdown()

        return AgentsBenchReport(
            agents: agents, tasks: tasks,
            agentSteps: second.steps, agentSeconds: second.seconds,
            agentStepsPerSecond: Double(second.steps) / second.seconds,
            agentTokensPerSecond: Double(second.tokens) / second.seconds,
            engineRequests: engineAlone.steps, engineSeconds: engineAlone.seconds,
            engineRequestsPerSecond: Double(engineAlone.steps) / engineAlone.seconds,
            agentShareOfEngine: (Double(second.steps) / second.seconds) / (Double(engineAlone.steps) / engineAlone.seconds),
            sameRequestsAsRecorded: second.steps == first.steps && second.tokens == first.tokens,
            runtimeMsPerStep: 1000 * instant.seconds / Double(max(1, instant.steps)),
            success: second.solved, graded: prompts.count)
    }

    struct Tally {
        var steps = 0, tokens = 0, solved = 0
        var seconds = 0.0
    }

    /// Runs one agent per prompt, `agents` at a time, each with its own client.
    func runAgents(_ prompts: [String], clients: [any LLMClient], store: SQLiteStore) async throws -> Tally {
        var agentSpec = AgentSpec(name: "bench", instructions: TaskSuite.instructions, tools: [CalculatorTool()])
        agentSpec.maxSteps = maxSteps
        agentSpec.maxTokensPerStep = maxTokensPerStep
        let spec = agentSpec
        let started = DispatchTime.now().uptimeNanoseconds
        var tally = Tally()
        try await withThrowingTaskGroup(of: (Int, AgentRun).self) { group in
            var next = 0
            func start() {
                let i = next
                next += 1
                group.addTask { (i, try await Agent(spec: spec, client: clients[i]).run(task: prompts[i], store: store)) }
            }
            while next < min(agents, prompts.count) { start() }
            for try await (i, run) in group {
                tally.steps += run.steps.count
                tally.tokens += run.steps.reduce(0) { $0 + $1.promptTokens + $1.completionTokens }
                let numbers = prompts[i].split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
                tally.solved += Int(SuiteTask.reward(run.answer, expected: String(numbers[0] * numbers[1])))
                if next < prompts.count { start() }
            }
        }
        tally.seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        return tally
    }

    /// The engine alone: each sequence's requests in order, `agents` sequences at once.
    func replay(_ sequences: [[LLMRequest]], client: EngineClient) async throws -> Tally {
        let started = DispatchTime.now().uptimeNanoseconds
        var tally = Tally()
        try await withThrowingTaskGroup(of: Int.self) { group in
            var next = 0
            func start() {
                let requests = sequences[next]
                next += 1
                group.addTask {
                    for request in requests { _ = try await client.complete(request) }
                    return requests.count
                }
            }
            while next < min(agents, sequences.count) { start() }
            for try await count in group {
                tally.steps += count
                if next < sequences.count { start() }
            }
        }
        tally.seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        return tally
    }
}
