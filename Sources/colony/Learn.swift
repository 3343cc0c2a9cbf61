import ArgumentParser
import ColonyAgents
import ColonyRegistry
import Foundation

/// `colony learn`: agents attempt generated tasks, their successes train a LoRA, the LoRA is
/// evaluated, registered and put on a canary split that the next round's attempts feed.
struct Learn: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Learn from experience: attempt tasks, train a LoRA on the successes, evaluate, register, canary, repeat.",
        discussion: """
            --model must be ref:NAME: the loop serves NAME@prod (and its split) from an in-process server on \
            127.0.0.1, and registers each round's adapter as a version of NAME whose parent is the serving \
            version. A round: (1) agents attempt each generated train task --attempts times with sampling; \
            every attempt is stored with its verified reward in DIR/attempts.jsonl and credited to the version \
            that answered (the promotion gate weighs these outcomes while a canary split is in force); (2) the \
            successes so far, plus the base's own replies to everyday prompts (--replay), become \
            DIR/round-N/data.jsonl; (3) a LoRA is trained on them (colony train, checkpointed), starting from \
            the serving version's adapter (--init-from); (4) it is evaluated on held-out tasks and on general \
            chat (forgetting); (5) it is registered with its parent, configuration, data digest and evaluation \
            report; (6) it goes on a --canary split against the serving version. DIR/report.json and \
            DIR/learning.png sum up the rounds. The units family reaches its tool through Colony's own MCP \
            server (colony mcp, started as a child process).

            Killed at any point, the same command continues where it stopped: stored attempts are not run \
            again, training resumes from its newest checkpoint, and a version is registered only whole.
            """)

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var gateOptions: GateOptions

    @Option(name: .long, help: "Directory of the round reports, attempts and training runs.") var out: String
    @Option(name: .long, help: "Rounds to run (ignored with --continuous).") var rounds = 3
    @Flag(name: .long, help: "Run rounds until stopped.") var continuous = false
    @Option(name: .long, help: "Attempts per train task per round (k).") var attempts = 8
    @Option(name: .long, help: "Sampling temperature of the attempts (> 0).") var temperature: Float = 0.8
    @Option(name: .long, help: "Train tasks per family.") var trainTasks = 8
    @Option(name: .long, help: "Held-out tasks per family.") var heldOut = 8
    @Option(name: .long, help: "Task families, comma-separated: arithmetic, recall, delegation, units (through colony mcp).")
    var families = "arithmetic,recall,delegation,units"
    @Option(name: .long, help: "Seed of the task generator.") var seed: UInt64 = 0
    @Option(name: .long, help: "Steps an agent may take per task.") var maxSteps = 4
    @Option(name: .long, help: "Training steps per round.") var steps = 40
    @Option(name: .long, help: "LoRA rank.") var loraRank = 8
    @Option(
        name: .long,
        help: "Where each round's LoRA starts: serving (the serving version's adapter; zero while a whole model serves) or base (zero).")
    var initFrom = Start.serving
    @Option(name: .long, help: "Peak learning rate.") var lr: Float = 5e-4
    @Option(name: .long, help: "Tokens per training sequence.") var seqLen = 512
    @Flag(
        name: .customLong("replay"), inversion: .prefixedNo,
        help: "Mix the base's own replies to everyday prompts (apart from the forgetting measure's) into the training data.")
    var replay = true
    @Option(name: .long, help: "Percent of the next round's sessions the new version gets.") var canary = 50
    @Option(name: .long, help: "Minutes the attempts of one round may take; the rest wait for the next round.") var roundMinutes = 60.0

    var taskFamilies: [TaskGenerator.Family] { families.split(separator: ",").compactMap { TaskGenerator.Family(rawValue: String($0)) } }

    func validate() throws {
        guard modelOptions.resolved != nil else { throw ValidationError("--model must be ref:NAME (the loop registers versions of NAME)") }
        guard rounds >= 1 else { throw ValidationError("--rounds must be ≥ 1, got \(rounds)") }
        guard (1...64).contains(attempts) else { throw ValidationError("--attempts must be between 1 and 64, got \(attempts)") }
        guard temperature > 0 else { throw ValidationError("--temperature must be > 0: attempts sample, got \(temperature)") }
        guard (1...1000).contains(trainTasks), (1...1000).contains(heldOut) else {
            throw ValidationError("--train-tasks and --held-out must be between 1 and 1000")
        }
        let names = families.split(separator: ",").map(String.init)
        if let bad = names.first(where: { TaskGenerator.Family(rawValue: $0) == nil }) {
            throw ValidationError(
                "unknown family '\(bad)' in --families; choose from \(TaskGenerator.Family.allCases.map(\.rawValue).joined(separator: ", "))"
            )
        }
        guard (1...99).contains(canary) else { throw ValidationError("--canary must be a percent between 1 and 99, got \(canary)") }
        guard steps >= 1, loraRank >= 1, lr > 0, seqLen >= 16 else {
            throw ValidationError("--steps, --lora-rank, --lr and --seq-len must be positive")
        }
        guard maxSteps >= 1 else { throw ValidationError("--max-steps must be ≥ 1, got \(maxSteps)") }
        guard roundMinutes > 0 else { throw ValidationError("--round-minutes must be > 0, got \(roundMinutes)") }
    }

    func run() async throws {
        bootstrapLogging(verbose: modelOptions.verbose)
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let loop = try await LearningLoop(command: self)
        do {
            try await loop.baseline()
            var round = 1
            while continuous || round <= rounds {
                try await loop.round(round)
                round += 1
            }
            try loop.summarise()
        } catch {
            await loop.stop()
            throw error
        }
        await loop.stop()
    }
}

extension Learn {
    /// Where each round's LoRA starts (`--init-from`).
    enum Start: String, ExpressibleByArgument, CaseIterable {
        case serving, base
    }
}
