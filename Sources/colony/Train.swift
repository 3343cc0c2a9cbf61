import ArgumentParser
import ColonyCollectives
import ColonyModels
import ColonyTraining
import Foundation

/// `colony train`: fine-tune a GGUF model (LoRA or full) on chat JSONL.
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fine-tune a model (LoRA or full) on chat or agent-trajectory JSONL, with checkpoints, evaluation and GGUF export.",
        discussion: """
            Each line of --data is {"messages": [{"role": ..., "content": ...}, ...]} (the format of \
            `colony agents --trajectories` too); the loss is taken on assistant turns only. Every line \
            is checked before training starts. Writes DIR/checkpoints/step-N.ckpt (atomically, the \
            newest --keep kept), DIR/log.jsonl (one line per step and evaluation) and, at the end, \
            DIR/model.gguf with LoRA merged in. With --resume the run continues from the newest \
            checkpoint and follows the same loss curve as an uninterrupted run.

            Data parallel over MPI: mpirun --allow-run-as-root -np 2 colony train --collective mpi ... \
            (each rank takes its own micro-batches; --zero 1|2|3 shards optimiser state, gradients, \
            parameters). Rank 0 prints progress and writes the log and the model; under ZeRO each \
            rank keeps its own checkpoints in DIR/checkpoints/rank-N.
            """)

    @Option(name: .long, help: "The GGUF model to start from (default: $COLONY_MODEL or the default model).")
    var base: String?

    @Option(name: .long, help: "Training data (JSONL of conversations).")
    var data: String

    @Option(name: .long, help: "Held-out data for evaluation (same format).")
    var eval: String?

    @Option(name: .long, help: "LoRA rank; 0 trains every weight (full fine-tune, in f32).")
    var loraRank = 8

    @Option(name: .long, help: "LoRA alpha (the update is scaled by alpha/rank).")
    var loraAlpha: Float = 16

    @Option(name: .long, help: "Projections that get LoRA adapters (comma-separated: q,k,v,o,gate,up,down).")
    var loraTargets = "q,k,v,o"

    @Option(name: .long, help: "Forward products of the frozen quantized base (LoRA): int16 (integer kernels, near-exact, faster) or float32.")
    var precision = FrozenPrecision.int16

    @Option(name: .long, help: "Optimiser steps.")
    var steps = 100

    @Option(name: .long, help: "Sequences per micro-batch (per rank).")
    var batch = 4

    @Option(name: .long, help: "Tokens per sequence; conversations are packed, longer ones cut.")
    var seqLen = 256

    @Option(name: .long, help: "Micro-batches per optimiser step (gradient accumulation).")
    var accumulation = 1

    @Option(name: .long, help: "Peak learning rate.")
    var lr: Float = 1e-3

    @Option(name: .long, help: "Warmup steps (linear), then cosine decay to 10% of the peak.")
    var warmup = 10

    @Option(name: .long, help: "adamw or sgd (with momentum 0.9).")
    var optimizer = "adamw"

    @Option(name: .long, help: "Decoupled weight decay.")
    var weightDecay: Float = 0.01

    @Option(name: .long, help: "Clip the global gradient norm to this (0: off).")
    var clip: Float = 1

    @Option(name: .long, help: "Evaluate every N steps (0: only at the start and the end).")
    var evalEvery = 0

    @Option(name: .long, help: "Batches per evaluation.")
    var evalBatches = 4

    @Option(name: .long, help: "Output folder.")
    var out = "runs/train"

    @Option(name: .long, help: "Checkpoint every N steps (0: only at the end).")
    var checkpointEvery = 0

    @Option(name: .long, help: "Checkpoints to keep.")
    var keep = 3

    @Flag(name: .long, help: "Continue from the newest checkpoint in --out.")
    var resume = false

    @Option(name: .long, help: "Stop (with a checkpoint) after this many steps in this invocation; continue later with --resume.")
    var stopAfter: Int?

    @Option(name: .long, help: "Tensor type of the exported model: f32, f16, q8_0 or q4_1.")
    var exportType = "q8_0"

    @Option(name: .long, help: "Skip conversations whose \"reward\" is below this.")
    var minReward: Double?

    @Option(name: .long, help: "Seed for initialisation and data order.")
    var seed: UInt64 = 0

    @Option(name: .long, help: "Threads for matrix products.")
    var threads: Int?

    @Option(name: .long, help: "none, or mpi (launch with mpirun).")
    var collective = "none"

    @Option(name: .long, help: "ZeRO stage across ranks: 0 (plain data parallel), 1, 2 or 3.")
    var zero = 0

    func validate() throws {
        guard loraRank >= 0 else { throw ValidationError("--lora-rank must be ≥ 0, got \(loraRank)") }
        guard TrainingConfig.OptimizerKind(rawValue: optimizer) != nil else { throw ValidationError("--optimizer must be adamw or sgd, got '\(optimizer)'") }
        guard TrainableLlama.exportTypes[exportType] != nil else {
            throw ValidationError("--export-type must be one of \(TrainableLlama.exportTypes.keys.sorted().joined(separator: ", ")), got '\(exportType)'")
        }
        guard (0...3).contains(zero) else { throw ValidationError("--zero must be 0, 1, 2 or 3, got \(zero)") }
        if loraRank > 0 { try lora?.validate() }
        if let stopAfter, stopAfter < 1 { throw ValidationError("--stop-after must be ≥ 1, got \(stopAfter)") }
        guard ["none", "mpi"].contains(collective) else { throw ValidationError("--collective must be none or mpi, got '\(collective)'") }
        if let threads, !(1...256).contains(threads) { throw ValidationError("--threads must be between 1 and 256, got \(threads)") }
        try settings.validate()
    }

    var lora: LoRAConfig? {
        loraRank > 0 ? LoRAConfig(rank: loraRank, alpha: loraAlpha, targets: loraTargets.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }) : nil
    }

    var settings: TrainingConfig {
        var c = TrainingConfig()
        c.steps = steps
        c.batchSize = batch
        c.sequenceLength = seqLen
        c.accumulation = accumulation
        c.optimizer = TrainingConfig.OptimizerKind(rawValue: optimizer) ?? .adamw
        c.learningRate = lr
        c.warmupSteps = warmup
        c.weightDecay = weightDecay
        c.clipNorm = clip
        c.evalEvery = evalEvery
        c.evalBatches = evalBatches
        c.checkpointEvery = checkpointEvery
        c.keepCheckpoints = keep
        c.seed = seed
        return c
    }

    func run() throws {
        bootstrapLogging(verbose: false)
        if let threads { setBLASThreads(threads) }
        let parallel: ParallelConfig? = collective == "mpi" ? try ParallelConfig(collective: try MPICollective.initialize(), zeroStage: zero) : nil
        defer { if parallel != nil { try? MPICollective.finalize() } }
        let lead = (parallel?.collective.rank ?? 0) == 0
        func say(_ text: String) { if lead { writeErr(text) } }

        let gguf = try ModelOptions.open(base, option: "--base")
        let tokenizer = try Tokenizer(gguf: gguf)
        let template = try ChatTemplate(gguf: gguf)

        let trainData = try ChatDataset(path: data, tokenizer: tokenizer, template: template, maxLength: seqLen, minReward: minReward)
        let evalData = try eval.map { try ChatDataset(path: $0, tokenizer: tokenizer, template: template, maxLength: seqLen) }
        say("data: \(trainData.examples.count) conversations, \(trainData.examples.reduce(0) { $0 + $1.trained.filter { $0 }.count }) trained tokens"
            + (trainData.truncated > 0 ? ", \(trainData.truncated) cut to \(seqLen) tokens" : "")
            + (trainData.tooLong > 0 ? ", \(trainData.tooLong) left out (no assistant token within \(seqLen) tokens)" : "")
            + (trainData.skippedForReward > 0 ? ", \(trainData.skippedForReward) skipped for their reward" : "")
            + (evalData.map { "; eval: \($0.examples.count) conversations" } ?? "") + "\n")

        let runtime = lora == nil ? nil : precision.runtime(threads: threads)
        let model = try TrainableLlama(gguf: gguf, lora: lora, packedRuntime: runtime, seed: seed)
        let loader = BatchLoader(examples: trainData.examples, batchSize: batch, length: seqLen, seed: seed)
        let evalLoader = evalData.map { BatchLoader(examples: $0.examples, batchSize: batch, length: seqLen, seed: seed &+ 1) }
        let trainer = try Trainer(model: model, config: settings, loader: loader, evalLoader: evalLoader, parallel: parallel)
        say("model: \(model.config.blockCount) layers, \(lora.map { "LoRA rank \($0.rank) on \($0.targets.joined(separator: ","))" } ?? "full fine-tune"), "
            + "\(trainer.parameterCount) trainable parameters\(parallel.map { ", \($0.collective.size) ranks, ZeRO \($0.zeroStage)" } ?? "")\n")

        // Sharded state (ZeRO ≥ 1) differs per rank, so each rank keeps its own checkpoints;
        // otherwise every rank holds the same state and rank 0 writes it.
        let sharded = (parallel?.zeroStage ?? 0) >= 1
        let checkpoints = (out as NSString).appendingPathComponent(sharded ? "checkpoints/rank-\(parallel!.collective.rank)" : "checkpoints")
        let writesCheckpoints = lead || sharded
        if resume {
            guard let latest = Checkpoint.list(in: checkpoints).last else {
                throw ValidationError("--resume: no checkpoint in \(checkpoints); run without --resume to start")
            }
            try trainer.restore(try Checkpoint.read(latest))
            say("resumed from \(latest) at step \(trainer.step)\n")
        }
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let log = TrainingLog(path: (out as NSString).appendingPathComponent("log.jsonl"), enabled: lead, append: resume)

        func evaluate() throws {
            guard let result = try trainer.evaluate() else { return }
            say(String(format: "\r\u{1B}[Keval at step %d: loss %.4f, perplexity %.2f\n", trainer.step, result.loss, result.perplexity))
            log.write(["step": trainer.step, "eval_loss": Double(result.loss), "eval_perplexity": Double(result.perplexity)])
        }
        if trainer.step == 0 { try evaluate() }
        let started = Date()
        let firstStep = trainer.step
        var tokens = 0
        let stop = min(steps, firstStep + (stopAfter ?? steps))
        while trainer.step < stop {
            let report = try trainer.trainStep()
            tokens += report.processedTokens * (parallel?.collective.size ?? 1)
            log.write(["step": report.step, "loss": Double(report.loss), "lr": Double(report.learningRate),
                       "grad_norm": Double(report.gradientNorm), "tokens": report.tokens])
            let elapsed = Date().timeIntervalSince(started)
            let done = report.step - firstStep
            let eta = elapsed / Double(done) * Double(steps - report.step)
            let width = 24, filled = width * report.step / steps
            say("\r\u{1B}[K[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] "
                + String(format: "step %d/%d  loss %.4f  lr %.2e  %.0f tok/s  ETA %@", report.step, steps, report.loss, report.learningRate,
                         Double(tokens) / elapsed, Self.duration(eta)))
            if evalEvery > 0 && report.step % evalEvery == 0 && report.step < steps { try evaluate() }
            if checkpointEvery > 0 && report.step % checkpointEvery == 0 && writesCheckpoints {
                try trainer.checkpoint().write(to: checkpoints, keep: keep)
            }
        }
        say("\n")
        if trainer.step < steps {
            if writesCheckpoints { try trainer.checkpoint().write(to: checkpoints, keep: keep) }
            writeOut("stopped at step \(trainer.step) of \(steps); continue with --resume\n")
            return
        }
        try evaluate()
        if writesCheckpoints { try trainer.checkpoint().write(to: checkpoints, keep: keep) }
        try trainer.gatherParameters() // every rank takes part: ZeRO-3 holds only a shard between steps
        guard lead else { return }
        let modelPath = (out as NSString).appendingPathComponent("model.gguf")
        try model.export(to: modelPath, type: TrainableLlama.exportTypes[exportType]!)
        writeOut("wrote \(modelPath) (\(exportType)); checkpoints in \(checkpoints); log in \((out as NSString).appendingPathComponent("log.jsonl"))\n")
    }

    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "?" }
        let s = Int(seconds.rounded())
        return s >= 60 ? "\(s / 60)m\(String(format: "%02d", s % 60))s" : "\(s)s"
    }
}

/// Appends JSON lines (one per step or evaluation) to the run's log.
struct TrainingLog {
    let path: String
    let enabled: Bool

    init(path: String, enabled: Bool, append: Bool) {
        self.path = path
        self.enabled = enabled
        if enabled && (!append || !FileManager.default.fileExists(atPath: path)) {
            FileManager.default.createFile(atPath: path, contents: nil)
        }
    }

    func write(_ fields: [String: Any]) {
        guard enabled, let data = try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys]),
              let handle = FileHandle(forWritingAtPath: path) else { return }
        defer { try? handle.close() }
        _ = try? handle.seekToEnd()
        try? handle.write(contentsOf: data + Data("\n".utf8))
    }
}

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
    var precision = FrozenPrecision.int16

    func validate() throws {
        guard (2...32768).contains(seqLen) else { throw ValidationError("--seq-len must be between 2 and 32768, got \(seqLen)") }
        guard (1...1024).contains(batch) else { throw ValidationError("--batch must be between 1 and 1024, got \(batch)") }
    }

    func run() throws {
        bootstrapLogging(verbose: false)
        let gguf = try ModelOptions.open(model)
        let dataset = try ChatDataset(path: data, tokenizer: try Tokenizer(gguf: gguf), template: try ChatTemplate(gguf: gguf), maxLength: seqLen)
        let llama = try TrainableLlama(gguf: gguf, frozen: true, packedRuntime: precision.runtime(threads: nil))
        var loader = BatchLoader(examples: dataset.examples, batchSize: batch, length: seqLen, seed: 0)
        var sum: Double = 0, count = 0
        // One pass: stop once every example has been packed once.
        while loader.position.epoch == 0 {
            let part = llama.summedLoss(loader.next())
            sum += part.sum
            count += part.count
            writeErr("\r\(loader.position.epoch > 0 ? dataset.examples.count : loader.position.cursor)/\(dataset.examples.count) conversations")
        }
        writeErr("\n")
        guard count > 0 else { throw ValidationError("\(data) has no assistant tokens to score") }
        let loss = sum / Double(count)
        writeOut(String(format: "loss %.4f  perplexity %.3f  (%d tokens, %d conversations)\n", loss, exp(loss), count, dataset.examples.count))
    }
}

/// How products with frozen quantized weights are computed in training and evaluation.
enum FrozenPrecision: String, ExpressibleByArgument, CaseIterable {
    /// The inference engine's integer kernels (14-bit activations): near-exact and faster.
    case int16
    /// Weights expanded to f32 for BLAS: exact.
    case float32

    /// The integer-kernel runtime, or nil for f32.
    func runtime(threads: Int?) -> PackedRuntime? {
        self == .int16 ? PackedRuntime(threads: threads ?? ProcessInfo.processInfo.activeProcessorCount) : nil
    }
}
