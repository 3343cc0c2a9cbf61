import ArgumentParser
import ColonyBench
import ColonyModels
import ColonyTraining
import Foundation

/// `colony bench train`: training throughput on the model's real shapes.
struct BenchTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Measure training speed (forward + backward + AdamW step) for a full fine-tune and for LoRA.",
        discussion: """
            Random token ids, every position predicted, --batch sequences of --seq-len tokens per step. \
            The figure is tokens per second of the median step after one warm-up step. \
            scripts/bench-train runs this and PyTorch (CPU, eager) on the same architecture and shapes.
            """)

    @Option(name: .long, help: "The GGUF model whose shapes (and, for LoRA, frozen weights) are used.")
    var model: String?

    @Option(name: .long, help: "Tokens per sequence.")
    var seqLen = 256

    @Option(name: .long, help: "Sequences per step.")
    var batch = 1

    @Option(name: .long, help: "Measured steps per mode.")
    var steps = 3

    @Option(name: .long, help: "LoRA rank (targets q,k,v,o).")
    var loraRank = 8

    @Option(name: .long, help: "Forward products of the frozen quantized base (LoRA): int16 (integer kernels, near-exact) or float32.")
    var precision = ActivationPrecision.int16

    @Option(name: .long, help: "Modes to run: full, lora or both.")
    var mode = "both"

    @Option(name: .long, help: "Threads for matrix products (default: all cores).")
    var threads: Int?

    @Flag(name: .long, help: "Print one JSON object instead of a table.")
    var json = false

    func validate() throws {
        guard (2...4096).contains(seqLen) else { throw ValidationError("--seq-len must be between 2 and 4096, got \(seqLen)") }
        guard (1...64).contains(batch) else { throw ValidationError("--batch must be between 1 and 64, got \(batch)") }
        guard (1...100).contains(steps) else { throw ValidationError("--steps must be between 1 and 100, got \(steps)") }
        guard ["full", "lora", "both"].contains(mode) else { throw ValidationError("--mode must be full, lora or both, got '\(mode)'") }
    }

    func run() throws {
        bootstrapLogging(verbose: false)
        let threadCount = threads ?? ProcessInfo.processInfo.activeProcessorCount
        setBLASThreads(threadCount)
        let gguf = try ModelOptions.open(model)
        let bench = TrainBench(seqLen: seqLen, batch: batch, steps: steps, loraRank: loraRank, precision: precision, threads: threads)
        var report = TrainBenchReport(seqLen: seqLen, batch: batch, threads: threadCount)
        for m in mode == "both" ? TrainBench.Mode.allCases : [TrainBench.Mode(rawValue: mode)!] {
            let speed = try bench.run(m, gguf: gguf) { phase in
                guard !json else { return }
                switch phase {
                case .loading(let m): writeErr(ProgressBar.status("\(m.rawValue): loading"))
                case .step(let m, let step, let total): writeErr(ProgressBar.status("\(m.rawValue): step \(step)/\(total)"))
                }
            }
            switch m {
            case .full: report.fullTokensPerSecond = speed
            case .lora: report.loraTokensPerSecond = speed
            }
        }
        if !json { writeErr(ProgressBar.clear) }
        writeOut(try report.rendered(json: json))
    }
}
