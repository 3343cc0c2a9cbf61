import ArgumentParser
import ColonyBench

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
        guard (8...512).contains(maxTokensPerStep) else {
            throw ValidationError("--max-tokens-per-step must be between 8 and 512, got \(maxTokensPerStep)")
        }
    }

    func run() async throws {
        bootstrapLogging(verbose: modelOptions.verbose)
        let (model, tokenizer) = try modelOptions.loadModel()
        let bench = AgentsBench(agents: agents, tasks: tasks, maxSteps: maxSteps, maxTokensPerStep: maxTokensPerStep)
        let report = try await bench.run(model: model, tokenizer: tokenizer) { phase in
            if !json { writeErr(ProgressBar.status(phase)) }
        }
        if !json { writeErr(ProgressBar.clear) }
        writeOut(try report.rendered(json: json))
    }
}
