import ColonyTensor
import Foundation

/// A whole training run around a `Trainer`: resume, held-out evaluation and checkpoint
/// cadence, stopping early, `log.jsonl`, and the exported model.
///
/// The cadence comes from the trainer's `TrainingConfiguration` (`evalEvery`, `checkpointEvery`,
/// `keepCheckpoints`, `steps`). Progress reaches the caller as `Event`s; the run itself
/// prints nothing.
///
/// ```swift
/// let run = TrainingRun(trainer: trainer, output: "runs/train", exportType: .q8_0)
/// switch try run.run(onEvent: { print($0) }) {
/// case .stopped(let step, let total): print("stopped at \(step) of \(total)")
/// case .finished(let model): print("wrote \(model ?? "nothing (not the lead rank)")")
/// }
/// ```
///
/// Files under `output`: `checkpoints/step-N.ckpt` (under ZeRO ≥ 1 or a pipeline/tensor mesh,
/// where every rank's state differs, `checkpoints/rank-R/step-N.ckpt`), `log.jsonl` (one
/// line per step and evaluation, rank 0 only, which receives the loss from the last stage) and, at the end, `model.gguf` with LoRA merged in and, for LoRA, `adapter.gguf` (rank 0 only).
public struct TrainingRun {
    /// What the run reports while it goes.
    public enum Event {
        /// Restored from `checkpoint`, which had completed `step` steps.
        case resumed(checkpoint: String, step: Int)
        /// Held-out loss after `step` steps (at the start, every `evalEvery` steps, at the end).
        case evaluated(step: Int, loss: Float, perplexity: Float)
        /// One optimiser step done.
        case stepped(StepReport, Progress)
        /// The loop of this invocation is over (finished or stopped); evaluation and export may follow.
        case stepsDone(step: Int)
    }

    /// Where a step leaves the run as a whole.
    public struct Progress: Sendable {
        /// Steps of the whole run (`TrainingConfiguration.steps`).
        public var totalSteps: Int
        /// Tokens through the model per second (all ranks) since this invocation started.
        public var tokensPerSecond: Double
        /// Seconds left at this invocation's pace; infinite before a step has completed.
        public var etaSeconds: Double
    }

    /// How the invocation ended.
    public enum Outcome: Equatable {
        /// `stopAfter` stopped it at `step` of `total`, with a checkpoint to resume from.
        case stopped(step: Int, of: Int)
        /// Every step done; `model` is the exported GGUF (nil on ranks other than 0).
        case finished(model: String?)
    }

    public let trainer: Trainer
    /// The output folder.
    public let output: String
    /// Continue from the newest checkpoint in `checkpointDirectory`.
    public var resume: Bool
    /// Steps to take in this invocation at most (nil: to the end).
    public var stopAfter: Int?
    /// Tensor type of the exported model's matrices.
    public var exportType: DType
    /// Also checkpoint when this many minutes have passed since the last one (rank 0's
    /// clock decides for every rank, so sharded checkpoints are of one step).
    public var checkpointMinutes: Double?
    /// Write checkpoints on a thread of their own while training goes on.
    public var backgroundCheckpoints: Bool

    public init(
        trainer: Trainer, output: String, resume: Bool = false, stopAfter: Int? = nil, exportType: DType = .q8_0,
        checkpointMinutes: Double? = nil, backgroundCheckpoints: Bool = true
    ) {
        self.trainer = trainer
        self.output = output
        self.resume = resume
        self.stopAfter = stopAfter
        self.exportType = exportType
        self.checkpointMinutes = checkpointMinutes
        self.backgroundCheckpoints = backgroundCheckpoints
    }

    /// Rank 0 (or a single process): the rank that logs, exports and reports.
    public var isLead: Bool { trainer.isLead }

    /// Sharded state (ZeRO ≥ 1, or a part of the model under a mesh) differs per rank, so
    /// each rank keeps its own checkpoints; otherwise every rank holds the same state and
    /// rank 0 writes it.
    private var sharded: Bool { trainer.holdsOwnState }
    /// Asynchronous runs keep no checkpoints: the state that matters lives on the servers.
    private var writesCheckpoints: Bool { (isLead || sharded) && trainer.exchange == nil }

    /// This rank's checkpoint folder.
    public var checkpointDirectory: String {
        let folder = sharded ? "checkpoints/rank-\(trainer.parallel?.collective.rank ?? 0)" : "checkpoints"
        return (output as NSString).appendingPathComponent(folder)
    }

    /// The run's JSON-lines log.
    public var logPath: String { (output as NSString).appendingPathComponent("log.jsonl") }

    /// Where the finished run's model is written.
    public var modelPath: String { (output as NSString).appendingPathComponent("model.gguf") }

    /// Where a LoRA run's adapter alone is written (llama.cpp's GGUF adapter format), to be
    /// served on its base without merging.
    public var adapterPath: String { (output as NSString).appendingPathComponent("adapter.gguf") }

    /// Restores the newest checkpoint when `resume` is set.
    ///
    /// - Throws: `TrainingError.noCheckpoint` when there is none to resume from.
    private func restoreIfResuming(onEvent: (Event) throws -> Void) throws {
        guard resume else { return }
        if trainer.checkpointsShards {
            let (path, step) = try restoreShards()
            try onEvent(.resumed(checkpoint: path, step: step))
            return
        }
        guard let latest = Checkpoint.list(in: checkpointDirectory).last else {
            throw TrainingError.noCheckpoint(directory: checkpointDirectory)
        }
        try trainer.restore(try Checkpoint.read(latest))
        try onEvent(.resumed(checkpoint: latest, step: trainer.step))
    }

    /// ZeRO: restores the newest step whose every shard is on disk, written by however many
    /// ranks wrote it; returns rank 0's file of it and the step.
    private func restoreShards() throws -> (String, Int) {
        let root = (output as NSString).appendingPathComponent("checkpoints")
        guard let (paths, lead) = try Checkpoint.newestSharded(in: root, shards: trainer.parallel?.layout.replicas ?? 1) else {
            throw TrainingError.noCheckpoint(directory: (root as NSString).appendingPathComponent("rank-0"))
        }
        try trainer.restore(shards: [lead] + paths.dropFirst().map(Checkpoint.read))
        return (paths[0], lead.step)
    }

    /// Runs to the end, or until `stopAfter` steps in this invocation.
    ///
    /// Every rank calls it (the trainer's collectives need them all); only rank 0 logs and exports.
    /// - Throws: `TrainingError` (checkpoints, export) and the trainer's errors; `onEvent`'s errors stop the run.
    public func run(onEvent: (Event) throws -> Void = { _ in }) throws -> Outcome {
        try restoreIfResuming(onEvent: onEvent)
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        let log = TrainingLog(path: logPath, enabled: isLead, append: resume)
        let config = trainer.config
        func evaluate() throws {
            guard let result = try trainer.evaluate() else { return }
            try onEvent(.evaluated(step: trainer.step, loss: result.loss, perplexity: result.perplexity))
            log.writeEvaluation(step: trainer.step, loss: result.loss, perplexity: result.perplexity)
        }
        let writer = backgroundCheckpoints ? CheckpointWriter() : nil
        var lastCheckpoint = Date()
        func checkpoint() throws {
            lastCheckpoint = Date()
            guard writesCheckpoints else { return }
            let snapshot = trainer.checkpoint()
            if let writer {
                try writer.write(snapshot, to: checkpointDirectory, keep: config.keepCheckpoints)
            } else {
                try snapshot.write(to: checkpointDirectory, keep: config.keepCheckpoints)
            }
        }
        /// Whether `checkpointMinutes` have passed, by rank 0's clock.
        func timeForCheckpoint() throws -> Bool {
            guard let minutes = checkpointMinutes, trainer.exchange == nil else { return false }
            var due: [Float] = [Date().timeIntervalSince(lastCheckpoint) >= minutes * 60 ? 1 : 0]
            if let world = trainer.parallel?.collective, world.size > 1 { try world.broadcast(&due, count: 1, root: 0) }
            return due[0] != 0
        }

        if trainer.step == 0 { try evaluate() }
        let started = Date()
        let firstStep = trainer.step
        let replicas = trainer.replicas
        var tokens = 0
        let stop = min(config.steps, firstStep + (stopAfter ?? config.steps))
        while trainer.step < stop {
            let report = try trainer.trainStep()
            tokens += report.processedTokens * replicas
            let elapsed = Date().timeIntervalSince(started)
            log.write(report, elapsed: elapsed)
            let eta = elapsed / Double(report.step - firstStep) * Double(config.steps - report.step)
            try onEvent(.stepped(report, Progress(totalSteps: config.steps, tokensPerSecond: Double(tokens) / elapsed, etaSeconds: eta)))
            if config.evalEvery > 0 && report.step % config.evalEvery == 0 && report.step < config.steps { try evaluate() }
            let everyN = config.checkpointEvery > 0 && report.step % config.checkpointEvery == 0
            if try timeForCheckpoint() || everyN { try checkpoint() }
        }
        try onEvent(.stepsDone(step: trainer.step))
        if trainer.step < config.steps {
            try checkpoint()
            try writer?.flush()
            return .stopped(step: trainer.step, of: config.steps)
        }
        try evaluate()
        try checkpoint()
        try writer?.flush()
        try trainer.gatherParameters()  // every rank takes part: ZeRO-3 and meshes spread the model
        guard isLead, let model = trainer.wholeModel else { return .finished(model: nil) }
        try model.export(to: modelPath, type: exportType)
        if model.lora != nil { try model.exportAdapter(to: adapterPath) }
        return .finished(model: modelPath)
    }
}
