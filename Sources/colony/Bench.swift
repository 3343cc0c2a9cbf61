import ArgumentParser
import ColonyBench
import ColonyModels
import Foundation

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmarks: the model (default), the agent runtime, training, all-reduce, routing.",
        subcommands: [BenchModel.self, BenchAgents.self, BenchTrain.self, BenchAllReduce.self, BenchRouting.self],
        defaultSubcommand: BenchModel.self)
}

struct BenchModel: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Measure prefill and decode speed against this machine's memory-bandwidth roofline.",
        discussion: """
            Prefill runs the whole prompt as one batch; decode then generates greedily one token \
            at a time. Each figure is the median of --runs runs. The roofline is the read bandwidth \
            of memory measured in the same run (STREAM-style sum over 512 MiB with the same threads) \
            divided by the bytes of weights one decode step reads.
            """
    )

    @OptionGroup var modelOptions: ModelOptions

    @Option(name: .long, help: "Prompt length for the prefill measurement.")
    var promptTokens = 128

    @Option(name: .long, help: "Tokens to decode per run.")
    var genTokens = 128

    @Option(name: .long, help: "Runs per measurement (the median is reported).")
    var runs = 5

    @Flag(name: .long, help: "Print one JSON object instead of a table.")
    var json = false

    func validate() throws {
        guard promptTokens >= 1 else { throw ValidationError("--prompt-tokens must be ≥ 1, got \(promptTokens)") }
        guard genTokens >= 1 else { throw ValidationError("--gen-tokens must be ≥ 1, got \(genTokens)") }
        guard runs >= 1 && runs <= 100 else { throw ValidationError("--runs must be between 1 and 100, got \(runs)") }
    }

    func run() throws {
        bootstrapLogging(verbose: modelOptions.verbose)
        let (model, _) = try modelOptions.loadModel()
        let c = model.config
        guard promptTokens + genTokens <= c.contextLength else {
            throw ValidationError(
                "--prompt-tokens + --gen-tokens (\(promptTokens + genTokens)) exceed the model's context of \(c.contextLength)")
        }
        let report = try ModelBench(promptTokens: promptTokens, genTokens: genTokens, runs: runs)
            .run(model, name: (modelOptions.modelPath as NSString).lastPathComponent) { r in
                if !json { writeErr(ProgressBar.status("run \(r)/\(runs)")) }
            }
        if !json { writeErr(ProgressBar.clear) }
        writeOut(try report.rendered(json: json))
    }
}
