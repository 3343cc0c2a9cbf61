/// The order in which one pipeline stage runs its micro-batches: 1F1B (PipeDream-Flush, as
/// in Megatron-LM without interleaving).
///
/// Stage s first runs min(S − s − 1, M) forwards (warm-up), then alternates one forward and
/// one backward, then runs the remaining backwards (cool-down). At most S − s micro-batches
/// are in flight on a stage, so activation memory is bounded by the stage count, not M.
/// With buffered sends no stage waits on a send, and every receive is matched: the
/// schedule cannot deadlock.
public struct PipelineSchedule: Sendable, Equatable {
    public enum Operation: Sendable, Equatable {
        case forward(Int)
        case backward(Int)
    }

    public let stages: Int
    public let stage: Int
    public let microBatches: Int

    public init(stages: Int, stage: Int, microBatches: Int) {
        precondition(stages >= 1 && (0..<stages).contains(stage) && microBatches >= 0, "a schedule needs a stage of the pipeline")
        self.stages = stages
        self.stage = stage
        self.microBatches = microBatches
    }

    public var operations: [Operation] {
        let warmup = min(stages - stage - 1, microBatches)
        var out = (0..<warmup).map { Operation.forward($0) }
        for i in 0..<(microBatches - warmup) {
            out.append(.forward(warmup + i))
            out.append(.backward(i))
        }
        out += ((microBatches - warmup)..<microBatches).map { .backward($0) }
        return out
    }

    /// The idle share of a step in theory, with forward and backward of every stage equally
    /// long and free communication: (S − 1) / (M + S − 1).
    public var theoreticalBubble: Double {
        Double(stages - 1) / Double(microBatches + stages - 1)
    }
}
