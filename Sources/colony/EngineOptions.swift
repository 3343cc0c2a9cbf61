import ArgumentParser
import ColonyEngine

/// Engine options shared by the commands that run a serving engine (serve, worker).
struct EngineOptions: ParsableArguments {
    @Option(name: .long, help: "Requests decoded together at most.")
    var maxBatch = 16

    @Option(name: .long, help: "KV cache blocks of 16 tokens (default: room for 16384 tokens).")
    var kvBlocks = 1024

    @Option(name: .long, help: "Tokens per engine step at most (decode plus prefill chunks).")
    var tokenBudget = 256

    @Option(name: .long, help: "Requests waiting at most; more get HTTP 429.")
    var maxQueue = 256

    @Option(name: .long, help: "Admission order: fcfs or priority (uses the request's 'priority' field).")
    var policy = "fcfs"

    func validate() throws {
        guard maxBatch >= 1 else { throw ValidationError("--max-batch must be ≥ 1, got \(maxBatch)") }
        guard kvBlocks >= 2 else { throw ValidationError("--kv-blocks must be ≥ 2, got \(kvBlocks)") }
        guard tokenBudget >= 1 else { throw ValidationError("--token-budget must be ≥ 1, got \(tokenBudget)") }
        guard maxQueue >= 1 else { throw ValidationError("--max-queue must be ≥ 1, got \(maxQueue)") }
        guard ["fcfs", "priority"].contains(policy) else { throw ValidationError("--policy must be fcfs or priority, got '\(policy)'") }
    }

    var configuration: EngineConfiguration {
        var config = EngineConfiguration()
        config.maxBatch = maxBatch
        config.kvBlocks = kvBlocks
        config.tokenBudget = tokenBudget
        config.maxQueue = maxQueue
        config.policy = policy == "priority" ? PriorityFirst() as any SchedulingPolicy : FirstComeFirstServed()
        return config
    }

    /// The flags as given, to pass on to a child process.
    var arguments: [String] {
        [
            "--max-batch", "\(maxBatch)", "--kv-blocks", "\(kvBlocks)", "--token-budget", "\(tokenBudget)", "--max-queue", "\(maxQueue)",
            "--policy", policy,
        ]
    }
}
