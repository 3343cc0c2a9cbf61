import ArgumentParser
import ColonyAgents
import Foundation

struct AgentsEval: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract:
            "Run the built-in task suite (arithmetic that needs the calculator, facts saved then recalled, a task delegated to a worker agent) and report the success rate."
    )

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var storeOptions: StoreOptions

    @Option(name: .long, help: "Steps an agent may take per task.")
    var maxSteps = 4

    func run() async throws {
        bootstrapLogging(verbose: modelOptions.verbose)
        let store = try storeOptions.open()
        let (engine, client) = try modelOptions.engineClient()
        var solved = 0
        var steps = 0
        var tokens = 0
        let started = Date()
        for task in TaskSuite.tasks {
            let result = try await TaskSuite.run(task, client: client, store: store, maxSteps: maxSteps)
            steps += result.steps
            tokens += result.tokens
            solved += Int(result.reward)
            if let path = storeOptions.trajectories {
                try Trajectory(run: result.graded, agent: task.name, task: task.prompts.last!, reward: result.reward).append(to: path)
            }
            writeOut(
                "\(result.reward == 1 ? "✔" : "✘") \(task.name.padding(toLength: 12, withPad: " ", startingAt: 0)) answer: \((result.graded.answer ?? "(none)").prefix(60).replacingOccurrences(of: "\n", with: " "))\n"
            )
        }
        await engine.shutdown()
        let seconds = Date().timeIntervalSince(started)
        writeOut(
            String(
                format: "success %d/%d (%.0f%%), %d steps, %d tokens, %.1f steps/s, %.0f tokens/s\n",
                solved, TaskSuite.tasks.count, 100 * Double(solved) / Double(TaskSuite.tasks.count), steps, tokens,
                Double(steps) / seconds, Double(tokens) / seconds))
    }
}
