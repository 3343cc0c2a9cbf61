import ArgumentParser
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
    var precision = FrozenPrecision.int16

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
        setBLASThreads(threads ?? ProcessInfo.processInfo.activeProcessorCount)
        let gguf = try ModelOptions.open(model)
        var results: [String: Double] = [:]
        for m in mode == "both" ? ["full", "lora"] : [mode] {
            if !json { writeErr("\(m): loading\r") }
            let llama = try TrainableLlama(gguf: gguf, lora: m == "lora" ? LoRAConfig(rank: loraRank) : nil, packedRuntime: m == "lora" ? precision.runtime(threads: threads) : nil)
            var rng = SplitMix64(seed: 1)
            let n = batch * seqLen
            let tokens = (0..<n).map { _ in Int32(rng.index(below: llama.config.vocabularySize)) }
            let batchData = TrainingBatch(tokens: tokens, positions: (0..<n).map { $0 % seqLen },
                                          segmentStart: [Int32](repeating: 0, count: n),
                                          targets: Array(tokens.dropFirst()) + [-1], sequences: batch, length: seqLen)
            var settings = TrainingConfig()
            settings.steps = steps + 1
            settings.batchSize = batch
            settings.sequenceLength = seqLen
            let trainer = try Trainer(model: llama, config: settings,
                                      loader: BatchLoader(examples: [TrainingExample(tokens: [1, 2], trained: [true, true])], batchSize: 1, length: 2, seed: 0))
            var times: [Double] = []
            for s in 0...steps {
                if !json { writeErr("\r\u{1B}[K\(m): step \(s + 1)/\(steps + 1)") }
                let report = try trainer.trainStep(batches: [batchData])
                if s > 0 { times.append(report.seconds) }
            }
            times.sort()
            results[m] = Double(n) / times[times.count / 2]
        }
        if !json { writeErr("\r\u{1B}[K") }
        if json {
            var object: [String: Any] = ["seq_len": seqLen, "batch": batch, "threads": threads ?? ProcessInfo.processInfo.activeProcessorCount]
            for (m, v) in results { object["\(m)_tokens_per_second"] = v }
            writeOut(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self) + "\n")
        } else {
            for (m, v) in results.sorted(by: { $0.key < $1.key }) {
                writeOut(m.padding(toLength: 6, withPad: " ", startingAt: 0)
                         + String(format: "%8.1f tokens/s  (batch %d × seq %d, forward + backward + AdamW)\n", v, batch, seqLen))
            }
        }
    }
}
