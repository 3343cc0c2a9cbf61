import ArgumentParser
import ColonyAgents
import ColonyEngine
import ColonyModels
import ColonyStore
import Foundation
import Synchronization

/// `colony bench agents`: what the agent runtime costs on top of the engine.
struct BenchAgents: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agents",
        abstract: "Measure agent-step throughput against the engine alone at the same concurrency.",
        discussion: """
            Four phases over the same arithmetic tasks, every agent with the calculator and a durable \
            SQLite store: (1) the agents run once, recording every model request; (2) the engine alone \
            replays exactly those requests, --agents sequences at once, with no agent runtime around \
            it; (3) the agents run again (the model is greedy, so they make the same requests); \
            (4) the agents run against an instant model that replays the recorded replies, which \
            leaves only the runtime's own cost per step (prompt building, tools, store writes). \
            Phases 2 and 3 both find the prefix cache warm from phase 1.
            """)

    @OptionGroup var modelOptions: ModelOptions

    @Option(name: .long, help: "Agents running at once.")
    var agents = 64

    @Option(name: .long, help: "Tasks in all (each agent takes the next task when it finishes one).")
    var tasks = 64

    @Option(name: .long, help: "Steps an agent may take per task.")
    var maxSteps = 3

    @Option(name: .long, help: "Tokens the model may generate per step.")
    var maxTokensPerStep = 48

    @Flag(name: .long, help: "Print one JSON object instead of a table.")
    var json = false

    func validate() throws {
        guard (1...256).contains(agents) else { throw ValidationError("--agents must be between 1 and 256, got \(agents)") }
        guard (1...4096).contains(tasks) else { throw ValidationError("--tasks must be between 1 and 4096, got \(tasks)") }
        guard (1...20).contains(maxSteps) else { throw ValidationError("--max-steps must be between 1 and 20, got \(maxSteps)") }
        guard (8...512).contains(maxTokensPerStep) else { throw ValidationError("--max-tokens-per-step must be between 8 and 512, got \(maxTokensPerStep)") }
    }

    func run() async throws {
        bootstrapLogging(verbose: modelOptions.verbose)
        let (model, tokenizer) = try modelOptions.loadModel()
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

        progress("1/4 agents, recording requests")
        let recorders = prompts.map { _ in RecordingClient(client) }
        let first = try await runAgents(prompts, clients: recorders, store: store)

        progress("2/4 engine alone, replaying \(recorders.reduce(0) { $0 + $1.requests.count }) requests")
        let engineAlone = try await replay(recorders.map(\.requests), client: client)

        progress("3/4 agents again")
        let second = try await runAgents(prompts, clients: prompts.map { _ in client }, store: store)

        progress("4/4 agents on an instant model")
        let instant = try await runAgents(prompts, clients: recorders.map { ReplayClient($0.replies) }, store: store)
        await engine.shutdown()
        if !json { writeErr("\r\u{1B}[K") }

        let report = Report(
            agents: agents, tasks: tasks,
            agent_steps: second.steps, agent_seconds: second.seconds,
            agent_steps_per_second: Double(second.steps) / second.seconds,
            agent_tokens_per_second: Double(second.tokens) / second.seconds,
            engine_requests: engineAlone.steps, engine_seconds: engineAlone.seconds,
            engine_requests_per_second: Double(engineAlone.steps) / engineAlone.seconds,
            agent_share_of_engine: (Double(second.steps) / second.seconds) / (Double(engineAlone.steps) / engineAlone.seconds),
            same_requests_as_recorded: second.steps == first.steps && second.tokens == first.tokens,
            runtime_ms_per_step: 1000 * instant.seconds / Double(max(1, instant.steps)),
            success: second.solved, graded: prompts.count)
        if json {
            try writeJSON(report)
        } else {
            writeOut(report.table)
        }
    }

    private func progress(_ text: String) {
        if !json { writeErr("\r\u{1B}[K" + text) }
    }

    struct Tally {
        var steps = 0, tokens = 0, solved = 0
        var seconds = 0.0
    }

    /// Runs one agent per prompt, `agents` at a time, each with its own client.
    private func runAgents(_ prompts: [String], clients: [any LLMClient], store: SQLiteStore) async throws -> Tally {
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
    private func replay(_ sequences: [[LLMRequest]], client: EngineClient) async throws -> Tally {
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

    struct Report: Encodable {
        let agents: Int
        let tasks: Int
        let agent_steps: Int
        let agent_seconds: Double
        let agent_steps_per_second: Double
        let agent_tokens_per_second: Double
        let engine_requests: Int
        let engine_seconds: Double
        let engine_requests_per_second: Double
        let agent_share_of_engine: Double
        let same_requests_as_recorded: Bool
        let runtime_ms_per_step: Double
        let success: Int
        let graded: Int

        var table: String {
            String(format: """
                agents          %d at once, %d tasks, %d/%d answered correctly
                agents          %d steps in %.2f s: %.1f steps/s, %.0f tokens/s
                engine alone    %d requests in %.2f s: %.1f requests/s
                agents/engine   %.1f%%%@
                runtime cost    %.3f ms per step (instant model; prompts, tools, durable store)

                """, agents, tasks, success, graded, agent_steps, agent_seconds, agent_steps_per_second, agent_tokens_per_second,
                engine_requests, engine_seconds, engine_requests_per_second, agent_share_of_engine * 100,
                same_requests_as_recorded ? "" : " (the second agent run made different requests; compare with care)",
                runtime_ms_per_step)
        }
    }
}

/// Passes requests to a client and keeps them and the replies, in order.
final class RecordingClient: LLMClient {
    private let inner: any LLMClient
    private let log = Mutex<([LLMRequest], [LLMReply])>(([], []))
    init(_ inner: any LLMClient) { self.inner = inner }
    var requests: [LLMRequest] { log.withLock { $0.0 } }
    var replies: [LLMReply] { log.withLock { $0.1 } }

    func complete(_ request: LLMRequest) async throws -> LLMReply {
        let reply = try await inner.complete(request)
        log.withLock { $0.0.append(request); $0.1.append(reply) }
        return reply
    }
}

/// Answers instantly with recorded replies, in order.
final class ReplayClient: LLMClient {
    private let replies: Mutex<[LLMReply]>
    init(_ replies: [LLMReply]) { self.replies = Mutex(replies) }

    func complete(_ request: LLMRequest) async throws -> LLMReply {
        replies.withLock { $0.isEmpty ? LLMReply(text: "(no more recorded replies)") : $0.removeFirst() }
    }
}
