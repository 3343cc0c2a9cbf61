import ColonyModels

/// Which part of a Llama model one rank holds under pipeline and tensor parallelism.
///
/// Pipeline: the layers are split into `stages` contiguous runs that balance the work: the
/// last stage also holds the output norm and projection (and, when the output is tied, a
/// copy of the embedding), whose product costs vocabulary × width per token — eight of
/// SmolLM2's layers — so it takes fewer layers (SmolLM2's 30 go 19 + 11 on 2 stages); the
/// other layers are dealt out evenly, earlier stages taking the remainder. The first stage
/// also holds the token embedding (a lookup: no product). Tensor parallel (Megatron-style): each of the `tensorParallel` ranks of a
/// stage holds whole KV groups with their query heads — dealt out as evenly as possible,
/// earlier ranks first, so 3 groups on 2 ranks go 2 + 1 — and a slice of the feed-forward
/// features; everything else is replicated.
public struct ModelPartition: Sendable, Equatable {
    public let stages: Int
    public let stage: Int
    public let tensorParallel: Int
    public let tensorRank: Int
    /// This stage's layers (global indices).
    public let layers: Range<Int>
    /// This rank's KV groups (global indices); its query heads are those of these groups.
    public let kvGroups: Range<Int>
    /// This rank's feed-forward features (rows of gate and up, columns of down).
    public let feedForward: Range<Int>
    /// Query heads per KV group.
    public let headsPerGroup: Int

    /// The whole model on one rank.
    public static func whole(_ config: LlamaConfiguration) -> ModelPartition {
        try! ModelPartition(config: config, stages: 1, stage: 0, tensorParallel: 1, tensorRank: 0)
    }

    /// - Throws: `TrainingError.invalidArgument` when the model cannot be split so: more
    ///   stages than layers, or more tensor-parallel ranks than KV groups.
    public init(config c: LlamaConfiguration, stages: Int, stage: Int, tensorParallel: Int, tensorRank: Int) throws(TrainingError) {
        guard stages >= 1, (0..<stages).contains(stage) else { throw .invalidArgument("--pipeline-stages must be ≥ 1, got \(stages)") }
        guard stages <= c.blockCount else {
            throw .invalidArgument(
                "--pipeline-stages \(stages) is more than the model's \(c.blockCount) layers; every stage needs at least one layer")
        }
        guard tensorParallel >= 1, (0..<tensorParallel).contains(tensorRank) else {
            throw .invalidArgument("--tensor-parallel must be ≥ 1, got \(tensorParallel)")
        }
        guard tensorParallel <= c.kvHeadCount else {
            throw .invalidArgument(
                "--tensor-parallel \(tensorParallel) is more than the model's \(c.kvHeadCount) KV groups; a rank holds whole KV groups with their query heads, so use at most \(c.kvHeadCount)"
            )
        }
        self.stages = stages
        self.stage = stage
        self.tensorParallel = tensorParallel
        self.tensorRank = tensorRank
        layers = Self.stageLayers(c, stages: stages)[stage]
        kvGroups = Self.part(tensorRank, of: tensorParallel, count: c.kvHeadCount)
        feedForward = Self.part(tensorRank, of: tensorParallel, count: c.feedForwardLength)
        headsPerGroup = c.headCount / c.kvHeadCount
    }

    public var isFirstStage: Bool { stage == 0 }
    public var isLastStage: Bool { stage == stages - 1 }
    public var isWhole: Bool { stages == 1 && tensorParallel == 1 }
    /// This rank's query heads (global indices).
    public var heads: Range<Int> { (kvGroups.lowerBound * headsPerGroup)..<(kvGroups.upperBound * headsPerGroup) }

    /// The layers of each of `stages` stages: the split whose busiest stage does the least
    /// work (multiply-adds per token of the layers' projections, and of the output
    /// projection on the last stage); among equals, the one whose idlest stage does the
    /// most, then the one with fewer layers last.
    static func stageLayers(_ c: LlamaConfiguration, stages: Int) -> [Range<Int>] {
        guard stages > 1 else { return [0..<c.blockCount] }
        let attention = c.embeddingLength * c.headDimension * (2 * c.headCount + 2 * c.kvHeadCount)
        let layer = attention + 3 * c.embeddingLength * c.feedForwardLength
        let head = c.vocabularySize * c.embeddingLength
        let rest = stages - 1
        func order(_ n: Int) -> (Int, Int, Int) {
            let others = c.blockCount - n
            let lastWork = n * layer + head
            let busiest = max((others + rest - 1) / rest * layer, lastWork)
            let idlest = min(others / rest * layer, lastWork)
            return (busiest, -idlest, n)
        }
        let last = (1...(c.blockCount - rest)).min { order($0) < order($1) }!
        return (0..<rest).map { part($0, of: rest, count: c.blockCount - last) } + [(c.blockCount - last)..<c.blockCount]
    }

    /// Part `i` of `count` items dealt to `parts` as evenly as possible, earlier parts
    /// taking one more when it does not divide.
    static func part(_ i: Int, of parts: Int, count: Int) -> Range<Int> {
        let base = count / parts
        let extra = count % parts
        let start = i * base + min(i, extra)
        return start..<(start + base + (i < extra ? 1 : 0))
    }
}
