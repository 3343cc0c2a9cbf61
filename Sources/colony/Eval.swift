import ArgumentParser
import ColonyBench
import ColonyModels
import ColonyTraining
import Foundation

/// `colony eval`: perplexity of a model on chat JSONL.
struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a model's loss and perplexity on chat JSONL (assistant tokens only).")

    @Option(name: .long, help: "The GGUF model (default: $COLONY_MODEL or the default model).")
    var model: String?

    @Option(name: .long, help: "JSONL of conversations.")
    var data: String

    @Option(name: .long, help: "Tokens per sequence.")
    var seqLen = 256

    @Option(name: .long, help: "Sequences per batch.")
    var batch = 4

    @Option(name: .long, help: "Products with quantized weights: int16 (integer kernels, near-exact, faster) or float32 (exact).")
    var precision = ActivationPrecision.int16

    func validate() throws {
        guard (2...32768).contains(seqLen) else { throw ValidationError("--seq-len must be between 2 and 32768, got \(seqLen)") }
        guard (1...1024).contains(batch) else { throw ValidationError("--batch must be between 1 and 1024, got \(batch)") }
    }

    func run() throws {
        bootstrapLogging(verbose: false)
        let gguf = try ModelOptions.open(model)
        let dataset = try ChatDataset(
            path: data, tokenizer: try Tokenizer(gguf: gguf), template: try ChatTemplate(gguf: gguf), maxLength: seqLen)
        let llama = try TrainableLlama(gguf: gguf, frozen: true, packedRuntime: try precision.packedRuntime(threads: nil))
        let (mean, count) = try llama.meanLoss(over: dataset.examples, batchSize: batch, length: seqLen) { done in
            writeErr(ProgressBar.status("\(done)/\(dataset.examples.count) conversations"))
        }
        writeErr("\n")
        guard let loss = mean else { throw ValidationError("\(data) has no assistant tokens to score") }
        writeOut(
            String(format: "loss %.4f  perplexity %.3f  (%d tokens, %d conversations)\n", loss, exp(loss), count, dataset.examples.count))
    }
}
