import ColonyCollectives

/// How work and state are split across ranks: a mesh of data-parallel replicas, each a
/// pipeline of `pipelineStages` stages of `tensorParallel` ranks (see `MeshLayout`), and
/// ZeRO sharding across the replicas.
///
/// - stage 0: plain data parallel — every rank holds all parameters, gradients and
///   optimiser state; gradients are all-reduced (in buckets).
/// - stage 1: ZeRO-1 — optimiser state sharded; each rank updates its shard of the
///   parameters and the shards are all-gathered.
/// - stage 2: ZeRO-2 — also gradients: reduce-scatter leaves each rank only its shard.
/// - stage 3: ZeRO-3 — also parameters: a rank keeps only its shard between steps and
///   all-gathers the full set for the forward and backward pass.
///
/// ZeRO 0 and 1 combine with pipeline and tensor parallelism. ZeRO 2 and 3 are refused
/// there, as DeepSpeed does for pipelines: a pipeline keeps every micro-batch's gradient
/// until the step, so sharding gradients saves nothing, and ZeRO-3 would gather each
/// stage's parameters again for every micro-batch.
public struct ParallelConfiguration: Sendable {
    /// Every rank of the job.
    public var collective: any Collective
    public var zeroStage: Int
    /// Values per all-reduce call (gradient buckets).
    public var bucketValues: Int
    public var wire: WireFormat
    public var layout: MeshLayout
    /// The world may change size between restarts (`--elastic`): a step is
    /// `TrainingConfiguration.microBatches` micro-batches in all, dealt round-robin over
    /// the replicas, so the global batch and the data order do not depend on how many there are.
    public var elastic: Bool
    /// Data parallel (ZeRO 0 or 1, no pipeline or tensor split): all-reduce each bucket of
    /// layers' gradients during the backward pass (`GradientOverlap`), not after it. Off by
    /// default: on 2 cores the reducing thread and the TCP transport take the cores the
    /// ranks compute on (`scripts/bench-train-overlap` measures 1.2× slower steps).
    public var overlap: Bool
    /// ZeRO-3: gather parameters a layer at a time, the next one prefetched (`LayerGather`),
    /// rather than the whole model for the step.
    public var gatherByLayer: Bool

    public init(
        collective: any Collective, zeroStage: Int = 0, bucketValues: Int = 1 << 22, wire: WireFormat = .f32, pipelineStages: Int = 1,
        tensorParallel: Int = 1, elastic: Bool = false, overlap: Bool = false, gatherByLayer: Bool = true
    ) throws(TrainingError) {
        guard (0...3).contains(zeroStage) else { throw .invalidArgument("--zero must be 0, 1, 2 or 3, got \(zeroStage)") }
        guard bucketValues >= 1 else { throw .invalidArgument("bucket size must be ≥ 1") }
        layout = try MeshLayout(worldSize: collective.size, stages: pipelineStages, tensorParallel: tensorParallel)
        guard zeroStage <= 1 || (pipelineStages == 1 && tensorParallel == 1) else {
            throw .invalidArgument(
                "--zero \(zeroStage) does not combine with --pipeline-stages or --tensor-parallel; use --zero 0 or 1 (a pipeline keeps whole gradients until the step, so ZeRO 2 and 3 would save nothing)"
            )
        }
        guard !elastic || (pipelineStages == 1 && tensorParallel == 1) else {
            throw .invalidArgument(
                "--elastic restarts data-parallel ranks (with any --zero) at a new world size; it does not combine with --pipeline-stages or --tensor-parallel"
            )
        }
        self.elastic = elastic
        self.overlap = overlap
        self.gatherByLayer = gatherByLayer
        self.collective = collective
        self.zeroStage = zeroStage
        self.bucketValues = bucketValues
        self.wire = wire
    }
}

/// Bytes one rank holds between steps, by kind: what ZeRO is about.
public struct MemoryFootprint: Equatable, Sendable, Codable {
    public var parameterBytes: Int
    public var gradientBytes: Int
    public var optimizerBytes: Int

    /// What theory says a rank of `ranks` holds at `stage` for `parameters` values (padded to
    /// a multiple of `ranks`) and an optimiser with `buffers` values of state per parameter.
    public static func theory(parameters: Int, ranks: Int, stage: Int, optimizerBuffers: Int) -> MemoryFootprint {
        let shard = (parameters + ranks - 1) / ranks
        return MemoryFootprint(
            parameterBytes: 4 * (stage >= 3 ? shard : parameters),
            gradientBytes: 4 * (stage >= 2 ? shard : parameters),
            optimizerBytes: 4 * optimizerBuffers * (stage >= 1 ? shard : parameters))
    }
}

/// The flat view of a model's trainable parameters that ZeRO shards: parameter `i` occupies
/// `offsets[i]..<offsets[i] + count` of a vector padded to `ranks × shardCount` values.
struct FlatLayout {
    let counts: [Int]
    let offsets: [Int]
    let total: Int
    let shardCount: Int

    init(_ parameters: [Variable], ranks: Int) {
        counts = parameters.map(\.count)
        var offsets: [Int] = []
        var at = 0
        for c in counts {
            offsets.append(at)
            at += c
        }
        self.offsets = offsets
        total = at
        shardCount = (at + ranks - 1) / ranks
    }

    /// Copies each parameter's values (or gradients) into `flat`.
    func gather(_ parameters: [Variable], into flat: inout [Float], gradients: Bool) {
        for (i, p) in parameters.enumerated() {
            let source = gradients ? p.grad : p.value
            if source.isEmpty {
                for j in 0..<counts[i] { flat[offsets[i] + j] = 0 }
            } else {
                flat.withUnsafeMutableBufferPointer { f in
                    source.withUnsafeBufferPointer { s in
                        (f.baseAddress! + offsets[i]).update(from: s.baseAddress!, count: counts[i])
                    }
                }
            }
        }
    }

    /// The sum of squares of the parameters' values in `flat` whose `counted` is true.
    func sumOfSquares(_ flat: [Float], counted: [Bool]) -> Double {
        var total: Double = 0
        for i in counts.indices where counted[i] {
            for j in offsets[i]..<(offsets[i] + counts[i]) { total += Double(flat[j] * flat[j]) }
        }
        return total
    }

    /// Copies `flat` back into each parameter's values.
    func scatter(_ flat: [Float], into parameters: [Variable]) {
        for (i, p) in parameters.enumerated() {
            if p.value.count != counts[i] { p.value = [Float](repeating: 0, count: counts[i]) }
            p.value.withUnsafeMutableBufferPointer { v in
                flat.withUnsafeBufferPointer { f in v.baseAddress!.update(from: f.baseAddress! + offsets[i], count: counts[i]) }
            }
        }
    }
}
