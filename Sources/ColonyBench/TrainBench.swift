import ColonyModels
import ColonyTraining

/// Training speed (forward + backward + AdamW step) on a model's real shapes, for a full
/// fine-tune and for LoRA: random token ids, every position predicted, `batch` sequences of
/// `seqLen` tokens per step; the figure is tokens per second of the median step after one
/// warm-up step.
public struct TrainBench {
    /// What a bench trains: every weight, or LoRA adapters on a frozen base.
    public enum Mode: String, Sendable, CaseIterable { case full, lora }

    public var seqLen: Int
    public var batch: Int
    /// Measured steps per mode.
    public var steps: Int
    /// LoRA rank (targets q,k,v,o).
    public var loraRank: Int
    /// Products with the frozen base in LoRA mode.
    public var precision: ActivationPrecision
    /// Threads for the integer kernels (nil: all cores).
    public var threads: Int?

    public init(
        seqLen: Int = 256, batch: Int = 1, steps: Int = 3, loraRank: Int = 8, precision: ActivationPrecision = .int16, threads: Int? = nil
    ) {
        self.seqLen = seqLen
        self.batch = batch
        self.steps = steps
        self.loraRank = loraRank
        self.precision = precision
        self.threads = threads
    }

    /// What a mode's run is doing, for a progress line.
    public enum Phase: Sendable {
        case loading(Mode)
        /// Step `step` (1-based) of `of`, the warm-up step included.
        case step(Mode, step: Int, of: Int)
    }

    /// Tokens per second of the median measured step in `mode`.
    public func run(_ mode: Mode, gguf: GGUFFile, onPhase: (Phase) -> Void = { _ in }) throws -> Double {
        onPhase(.loading(mode))
        let llama = try TrainableLlama(
            gguf: gguf, lora: mode == .lora ? LoRAConfiguration(rank: loraRank) : nil,
            packedRuntime: mode == .lora ? try precision.packedRuntime(threads: threads) : nil)
        var rng = SplitMix64(seed: 1)
        let n = batch * seqLen
        let tokens = (0..<n).map { _ in Int32(rng.index(below: llama.config.vocabularySize)) }
        let batchData = TrainingBatch(
            tokens: tokens, positions: (0..<n).map { $0 % seqLen },
            segmentStart: [Int32](repeating: 0, count: n),
            targets: Array(tokens.dropFirst()) + [-1], sequences: batch, length: seqLen)
        var settings = TrainingConfiguration()
        settings.steps = steps + 1
        settings.batchSize = batch
        settings.sequenceLength = seqLen
        // The loader is never read: every step is given `batchData`.
        let loader = BatchLoader(examples: [TrainingExample(tokens: [1, 2], trained: [true, true])], batchSize: 1, length: 2, seed: 0)
        let trainer = try Trainer(model: llama, config: settings, loader: loader)
        var times: [Double] = []
        for s in 0...steps {
            onPhase(.step(mode, step: s + 1, of: steps + 1))
            let report = try trainer.trainStep(batches: [batchData])
            if s > 0 { times.append(report.seconds) }
        }
        return Double(n) / Statistics.median(times)
    }
}
