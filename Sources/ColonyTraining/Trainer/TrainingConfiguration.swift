/// The knobs of a training run. Saved in every checkpoint; a resume must use the same.
public struct TrainingConfiguration: Codable, Equatable, Sendable {
    public enum OptimizerKind: String, Codable, Sendable, CaseIterable { case adamw, sgd }

    public var steps = 100
    /// Sequences per optimiser step per data-parallel replica.
    public var batchSize = 4
    public var sequenceLength = 256
    /// Micro-batches the step's batch is split into: their gradients are summed before the
    /// step (gradient accumulation), and a pipeline keeps its stages busy with them.
    public var microBatches = 1
    public var optimizer = OptimizerKind.adamw
    public var learningRate: Float = 1e-3
    public var warmupSteps = 10
    public var minLearningRateRatio: Float = 0.1
    public var weightDecay: Float = 0.01
    /// Global gradient-norm clip; 0 turns clipping off.
    public var clipNorm: Float = 1
    public var evalEvery = 0
    public var evalBatches = 4
    public var checkpointEvery = 0
    public var keepCheckpoints = 3
    public var seed: UInt64 = 0

    public init() {}

    public func validate() throws(TrainingError) {
        func fail(_ s: String) -> TrainingError { .invalidArgument(s) }
        guard steps >= 1 else { throw fail("--steps must be ≥ 1, got \(steps)") }
        guard (1...1024).contains(batchSize) else { throw fail("--batch must be between 1 and 1024, got \(batchSize)") }
        guard (2...32768).contains(sequenceLength) else { throw fail("--seq-len must be between 2 and 32768, got \(sequenceLength)") }
        guard (1...1024).contains(microBatches) else { throw fail("--micro-batches must be between 1 and 1024, got \(microBatches)") }
        guard batchSize % microBatches == 0 else {
            throw fail(
                "--batch \(batchSize) is not divisible by --micro-batches \(microBatches); every micro-batch must hold the same number of sequences"
            )
        }
        guard learningRate > 0 && learningRate < 10 else { throw fail("--lr must be in (0, 10), got \(learningRate)") }
        guard warmupSteps >= 0 else { throw fail("--warmup must be ≥ 0, got \(warmupSteps)") }
        guard (0...1).contains(minLearningRateRatio) else {
            throw fail("the minimum learning-rate ratio must be in [0, 1], got \(minLearningRateRatio)")
        }
        guard weightDecay >= 0 else { throw fail("--weight-decay must be ≥ 0, got \(weightDecay)") }
        guard clipNorm >= 0 else { throw fail("--clip must be ≥ 0, got \(clipNorm)") }
        guard evalEvery >= 0 && evalBatches >= 1 else { throw fail("--eval-every must be ≥ 0 and --eval-batches ≥ 1") }
        guard checkpointEvery >= 0 && keepCheckpoints >= 1 else { throw fail("--checkpoint-every must be ≥ 0 and --keep ≥ 1") }
    }

    /// Sequences per micro-batch.
    public var microBatchSize: Int { batchSize / microBatches }

    var schedule: LearningRateSchedule {
        LearningRateSchedule(peak: learningRate, warmupSteps: warmupSteps, totalSteps: steps, minRatio: minLearningRateRatio)
    }

    func makeOptimizer() -> any Optimizer {
        switch optimizer {
        case .adamw: return AdamW(weightDecay: weightDecay)
        case .sgd: return SGD(momentum: 0.9, weightDecay: weightDecay)
        }
    }
}
