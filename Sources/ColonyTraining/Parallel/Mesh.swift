import ColonyCollectives

/// Where each rank sits in a data × pipeline × tensor mesh of ranks.
///
/// Tensor-parallel ranks are adjacent (they talk most: two all-reduces per layer), then
/// pipeline stages, then data-parallel replicas: rank = (replica · stages + stage) ·
/// tensorParallel + tensorRank.
public struct MeshLayout: Sendable, Equatable {
    public let replicas: Int
    public let stages: Int
    public let tensorParallel: Int

    /// - Throws: `TrainingError.invalidArgument` when stages × tensor-parallel ranks do not
    ///   divide the world.
    public init(worldSize: Int, stages: Int, tensorParallel: Int) throws(TrainingError) {
        guard stages >= 1 else { throw .invalidArgument("--pipeline-stages must be ≥ 1, got \(stages)") }
        guard tensorParallel >= 1 else { throw .invalidArgument("--tensor-parallel must be ≥ 1, got \(tensorParallel)") }
        let perReplica = stages * tensorParallel
        guard worldSize % perReplica == 0 else {
            throw .invalidArgument(
                "a replica of \(stages) pipeline stage\(stages == 1 ? "" : "s") × \(tensorParallel) tensor-parallel rank\(tensorParallel == 1 ? "" : "s") needs \(perReplica) ranks, which does not divide the \(worldSize) ranks of the job; launch a multiple of \(perReplica)"
            )
        }
        replicas = worldSize / perReplica
        self.stages = stages
        self.tensorParallel = tensorParallel
    }

    public var worldSize: Int { replicas * stages * tensorParallel }

    /// The replica, stage and tensor rank of world rank `rank`.
    public func coordinates(of rank: Int) -> (replica: Int, stage: Int, tensorRank: Int) {
        (rank / (stages * tensorParallel), rank / tensorParallel % stages, rank % tensorParallel)
    }

    public func rank(replica: Int, stage: Int, tensorRank: Int) -> Int {
        (replica * stages + stage) * tensorParallel + tensorRank
    }
}

/// One rank's groups in a mesh, split from the world (every rank makes the same splits).
struct MeshGroups {
    let layout: MeshLayout
    let replica: Int
    let stage: Int
    let tensorRank: Int
    /// The replicas of this rank's part of the model: gradients are reduced (or ZeRO
    /// sharded) here.
    let data: any Collective
    /// This replica's stages at this tensor rank, ranked by stage: activations travel here.
    let pipeline: (any Collective)?
    /// This stage's tensor-parallel ranks, ranked by tensor rank.
    let tensor: (any Collective)?
    /// Every rank of this replica: the gradient norm is summed here.
    let model: (any Collective)?
    /// The first and last stage of this replica at this tensor rank, which both hold a tied
    /// embedding (nil elsewhere, and without a pipeline).
    let tied: (any Collective)?

    init(world: any Collective, layout: MeshLayout) throws {
        self.layout = layout
        (replica, stage, tensorRank) = layout.coordinates(of: world.rank)
        let s = layout.stages
        let t = layout.tensorParallel
        guard s > 1 || t > 1 else {
            // Plain data parallel: the world is the data group, and nothing else is needed.
            (data, pipeline, tensor, model, tied) = (world, nil, nil, nil, nil)
            return
        }
        data = try world.split(color: stage * t + tensorRank, key: replica)!
        pipeline = s > 1 ? try world.split(color: replica * t + tensorRank, key: stage) : nil
        tensor = t > 1 ? try world.split(color: replica * s + stage, key: tensorRank) : nil
        model = try world.split(color: replica, key: stage * t + tensorRank)
        let end = stage == 0 || stage == s - 1
        tied = s > 1 ? try world.split(color: end ? replica * t + tensorRank : nil, key: stage) : nil
    }
}
