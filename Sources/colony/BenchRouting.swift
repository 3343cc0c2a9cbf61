import ArgumentParser
import ColonyBench

struct BenchRouting: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "routing",
        abstract: "Measure routing decisions per second with many mock workers (no network, no model).",
        discussion: "Each policy routes the same prompts against mock workers whose KV caches hold parts of them."
    )

    @Option(name: .long, help: "Mock workers.")
    var workers = 64

    @Option(name: .long, help: "Decisions per policy.")
    var decisions = 100_000

    @Option(name: .long, help: "Blocks of 16 tokens per prompt.")
    var promptBlocks = 64

    @Flag(name: .long, help: "Print one JSON object instead of a table.")
    var json = false

    func validate() throws {
        guard (1...10_000).contains(workers) else { throw ValidationError("--workers must be between 1 and 10000, got \(workers)") }
        guard (1...10_000_000).contains(decisions) else {
            throw ValidationError("--decisions must be between 1 and 10000000, got \(decisions)")
        }
        guard (1...4096).contains(promptBlocks) else {
            throw ValidationError("--prompt-blocks must be between 1 and 4096, got \(promptBlocks)")
        }
    }

    func run() throws {
        var bench = RoutingBench()
        bench.workers = workers
        bench.decisions = decisions
        bench.promptBlocks = promptBlocks
        writeOut(try bench.run().rendered(json: json))
    }
}
