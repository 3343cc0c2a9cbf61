import ColonyCollectives
import Foundation

/// What one optimiser step did.
public struct StepReport: Sendable {
    public var step: Int
    /// Token-weighted mean loss over the step's micro-batches (and ranks).
    public var loss: Float
    public var learningRate: Float
    /// Gradient norm before clipping.
    public var gradientNorm: Float
    /// Tokens that took a loss in this step (all ranks).
    public var tokens: Int
    /// Tokens that went through the model on this rank (padding included).
    public var processedTokens: Int
    public var seconds: Double
    /// Seconds this rank waited for another pipeline stage (its share of the bubble).
    public var pipelineWaitSeconds: Double = 0
    /// Asynchronous training: this worker's exchange with the servers in the step.
    public var exchange: ExchangeReport?
}

/// Runs the training loop: micro-batches → count-weighted gradients → (all-reduce or
/// reduce-scatter across ranks) → clip → optimiser step → (all-gather), with held-out
/// evaluation and checkpoints.
///
/// The gradient of a step is that of the token-weighted mean loss over everything the step
/// saw, however it was split into micro-batches or ranks: each micro-batch's summed-token
/// gradient is added up and divided by the total count once. So N ranks on N slices give
/// the same update as one rank on the whole batch.
///
/// With a mesh (`ParallelConfiguration.layout`) each rank trains its partition of the
/// model: pipeline stages run their micro-batches 1F1B, passing hidden states forward and
/// their gradients back; tensor-parallel ranks all-reduce inside each layer; every rank of
/// a replica reads the same micro-batches. Before the optimiser step the partial
/// gradients of unsplit LoRA factors are summed over the tensor group, a tied embedding's
/// over its first and last stage, and everything over the replicas; the global norm is
/// summed over the replica's ranks, each value counted once.
public final class Trainer {
    /// This rank's partition of the model (the whole model without a mesh).
    public let model: TrainableLlama
    public let config: TrainingConfiguration
    public var loader: BatchLoader
    public let evalLoader: BatchLoader?
    public let parallel: ParallelConfiguration?
    public internal(set) var step = 0
    public internal(set) var losses: [Float] = []
    let optimizer: any Optimizer
    let parameters: [Variable]
    let names: [String]
    /// Whether a parameter's squares count towards the global norm on this rank (each
    /// value of the model counted once across the mesh).
    private let countedInNorm: [Bool]
    /// Parameters whose gradients are partial sums over the tensor group.
    private let partialParameters: [Variable]
    /// The embedding held by both the first and the last stage (tied output), if trained.
    private let tiedEmbedding: Variable?
    private let mesh: MeshGroups?
    /// The whole model on the lead rank under a mesh, which `gatherParameters` fills.
    private let whole: TrainableLlama?
    let layout: FlatLayout
    /// ZeRO ≥ 1: this rank's slice of the flat parameters, with its gradient slice.
    private let shard: Variable?
    /// A worker's side of asynchronous training (`--sync ps` or `hybrid`).
    let exchange: WorkerExchange?
    /// Data parallel with overlap: the all-reduce that runs during backward.
    private let overlap: GradientOverlap?
    /// ZeRO-3 by layer: the gathers that follow forward and backward through the layers.
    let layerGather: LayerGather?
    /// Asynchronous training, on rank 0 after `gatherParameters()`: the servers' updates
    /// applied and rejected over the run.
    public internal(set) var exchangeTotals: (applied: Int, rejected: Int)?

    /// - Parameters:
    ///   - model: the whole model; under a mesh each rank keeps its partition.
    ///   - asynchronous: makes this rank a worker of asynchronous training (a server rank
    ///     builds a trainer too, for its `ParameterServer`); excludes `parallel`.
    public init(
        model: TrainableLlama, config: TrainingConfiguration, loader: BatchLoader, evalLoader: BatchLoader? = nil,
        parallel: ParallelConfiguration? = nil, asynchronous: AsynchronousConfiguration? = nil
    ) throws {
        try config.validate()
        guard parallel == nil || asynchronous == nil else {
            throw TrainingError.invalidArgument(
                "--sync ps and hybrid train each worker's whole model: they do not combine with ZeRO or a mesh")
        }
        Allocator.tuned
        self.config = config
        self.loader = loader
        self.evalLoader = evalLoader
        self.parallel = parallel
        optimizer = config.makeOptimizer()
        let mesh = try parallel.map { try MeshGroups(world: $0.collective, layout: $0.layout) }
        self.mesh = mesh
        if let mesh, mesh.layout.stages > 1 || mesh.layout.tensorParallel > 1 {
            let partition = try ModelPartition(
                config: model.config, stages: mesh.layout.stages, stage: mesh.stage, tensorParallel: mesh.layout.tensorParallel,
                tensorRank: mesh.tensorRank)
            self.model = model.partitioned(partition, tensorGroup: mesh.tensor)
            whole = parallel!.collective.rank == 0 ? model : nil
        } else {
            self.model = model
            whole = nil
        }
        let placed = self.model.placedParameters
        guard !placed.isEmpty || mesh?.layout.stages ?? 1 > 1 else {
            throw TrainingError.invalidModel("the model has no trainable parameters")
        }
        parameters = placed.map(\.variable)
        names = placed.map(\.name)
        let partition = self.model.partition
        let tied = partition.stages > 1 && model.output == nil ? placed.first { $0.name == "token_embd.weight" }?.variable : nil
        tiedEmbedding = tied
        countedInNorm = placed.map { p in
            (p.placement == .sliced || partition.tensorRank == 0) && !(p.variable === tied && partition.isLastStage)
        }
        partialParameters = placed.filter { $0.placement == .partial }.map(\.variable)
        let ranks = mesh?.data.size ?? 1
        layout = FlatLayout(parameters, ranks: ranks)
        if let parallel, let mesh, parallel.zeroStage >= 1 {
            let rank = mesh.data.rank
            var flat = [Float](repeating: 0, count: layout.shardCount * ranks)
            layout.gather(parameters, into: &flat, gradients: false)
            let slice = Array(flat[rank * layout.shardCount..<(rank + 1) * layout.shardCount])
            shard = Variable(rows: 1, cols: layout.shardCount, value: slice, requiresGrad: true)
            if parallel.zeroStage == 3 { for p in parameters { p.value = [] } }
        } else {
            shard = nil
        }
        // The layer of each parameter ("blk.N.…"), for the work that follows the layers.
        let layers = names.map { name -> Int? in
            guard name.hasPrefix("blk.") else { return nil }
            return Int(name.dropFirst(4).prefix { $0.isNumber })
        }
        if let parallel, let mesh, let shard, parallel.zeroStage == 3, parallel.gatherByLayer {
            layerGather = LayerGather(data: mesh.data, layout: layout, parameters: parameters, shard: shard, layers: layers)
        } else {
            layerGather = nil
        }
        if let parallel, let mesh, parallel.overlap, parallel.zeroStage <= 1, mesh.data.size > 1, mesh.pipeline == nil,
            mesh.tensor == nil
        {
            overlap = GradientOverlap(
                collective: mesh.data, wire: parallel.wire, layout: layout, parameters: parameters, layers: layers,
                bucketValues: parallel.bucketValues)
        } else {
            overlap = nil
        }
        if let asynchronous, !asynchronous.isServer {
            var flat = [Float](repeating: 0, count: layout.total)
            layout.gather(parameters, into: &flat, gradients: false)
            exchange = WorkerExchange(configuration: asynchronous, initial: flat)
        } else {
            exchange = nil
        }
    }

    /// Rank 0 (or a single process): the rank that logs, exports and reports.
    public var isLead: Bool { (parallel?.collective.rank ?? exchange?.configuration.world.rank ?? 0) == 0 }

    /// Ranks that read different data each step: data-parallel replicas or asynchronous workers.
    public var replicas: Int { mesh?.data.size ?? exchange?.configuration.workers ?? 1 }

    /// This rank's parameters end to end, in the order of `placedParameters`.
    public var flatParameters: [Float] {
        var flat = [Float](repeating: 0, count: layout.total)
        layout.gather(parameters, into: &flat, gradients: false)
        return flat
    }

    /// Bytes this rank holds between steps (parameters, gradients, optimiser state).
    public var footprint: MemoryFootprint {
        let stage = parallel?.zeroStage ?? 0
        let parameterBytes = 4 * (stage == 3 ? shard!.count : parameters.reduce(0) { $0 + $1.value.count })
        let gradientBytes = 4 * (stage >= 2 ? shard!.count : layout.total)
        let optimizerBytes = 4 * optimizer.state.buffers.reduce(0) { $0 + $1.reduce(0) { $0 + $1.count } }
        return MemoryFootprint(parameterBytes: parameterBytes, gradientBytes: gradientBytes, optimizerBytes: optimizerBytes)
    }

    /// Whether this rank's state differs from rank 0's, so it keeps its own checkpoints:
    /// under ZeRO, or holding a part of the model.
    public var holdsOwnState: Bool { shard != nil || !model.partition.isWhole }

    /// Trainable values of this rank's part of the model (all of it without pipeline or
    /// tensor parallelism; not a ZeRO shard).
    public var parameterCount: Int { layout.total }

    /// Trainable values of the whole model: known on the lead rank under a mesh (the
    /// others count their part).
    public var wholeParameterCount: Int { (whole ?? model).placedParameters.reduce(0) { $0 + $1.variable.count } }

    /// One optimiser step over `microBatches` micro-batches per replica from the loader.
    ///
    /// Every rank advances the same loader through replicas × microBatches batches and
    /// keeps every replicas-th one from its replica on: replicas see disjoint data, the
    /// ranks of one replica the same, and every loader position stays equal (so any rank's
    /// checkpoint resumes the data for all).
    @discardableResult
    public func trainStep() throws -> StepReport {
        let replica = mesh?.replica ?? exchange?.configuration.world.rank ?? 0
        if parallel?.elastic == true {
            // The global batch, dealt round-robin: the same micro-batches at any world size.
            let all = (0..<config.microBatches).map { _ in loader.next() }
            return try trainStep(batches: all.enumerated().filter { $0.offset % replicas == replica }.map(\.element))
        }
        let all = (0..<config.microBatches * replicas).map { _ in loader.next() }
        return try trainStep(batches: all.enumerated().filter { $0.offset % replicas == replica }.map(\.element))
    }

    /// One optimiser step over the given micro-batches (this replica's share of the step).
    @discardableResult
    public func trainStep(batches: [TrainingBatch]) throws -> StepReport {
        let started = DispatchTime.now().uptimeNanoseconds
        if let layerGather { try layerGather.gatherRest() } else { try gatherParametersIfSharded() }
        // Micro-batches without a target do nothing; every rank of a replica skips the same.
        let work = batches.filter { $0.targetCount > 0 }
        let count = work.reduce(0) { $0 + $1.targetCount }
        var lossSum: Double = 0
        var waited: Double = 0
        if let pipeline = mesh?.pipeline {
            (lossSum, waited) = try pipelineStep(work, pipeline: pipeline)
        } else {
            overlap?.begin()
            // ZeRO-3 by layer: every rank makes the same gathers, so one with fewer passes
            // (micro-batches without targets) makes the gathers of those it lacks. The
            // count is agreed first: a rank in another collective would not answer them.
            var passes = work.count
            if layerGather != nil, let data = mesh?.data {
                var counts = [Float](repeating: 0, count: data.size)
                try data.allGather([Float(work.count)], &counts, shardCount: 1, wire: .f32)
                passes = Int(counts.max()!)
            }
            for (i, batch) in work.enumerated() {
                let tape = Tape()
                // The last micro-batch's backward completes each layer's gradient.
                if i == work.count - 1, let overlap { tape.onLayerGradients = { overlap.layerDone($0) } }
                layerGather?.follow(tape, layers: model.config.blockCount)
                let loss = try model.loss(batch, tape: tape)
                try tape.backward(from: loss, seed: Float(batch.targetCount))  // summed-token gradient; divided by the total below
                lossSum += Double(loss.value[0]) * Double(batch.targetCount)
            }
            for _ in work.count..<passes { try layerGather?.idlePass(layers: model.config.blockCount) }
        }
        // The buckets' reductions end before any other collective of the step begins.
        try overlap?.finish()
        if let exchange { return try exchangeStep(exchange, lossSum: lossSum, count: count, batches: batches, started: started) }
        let totals = try stepTotals(lossSum: lossSum, count: count)
        let totalCount = max(1, Int(totals[1]))
        let lr = config.schedule.rate(at: step)
        let norm = try applyGradients(scale: 1 / Float(totalCount), lr: lr)
        releaseParametersIfSharded()
        step += 1
        let loss = totals[0] / Float(totalCount)
        losses.append(loss)
        return StepReport(
            step: step, loss: loss, learningRate: lr, gradientNorm: norm, tokens: Int(totals[1]),
            processedTokens: batches.reduce(0) { $0 + $1.tokens.count },
            seconds: Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9, pipelineWaitSeconds: waited)
    }

    /// The step's summed loss and target count over every replica, on every rank: summed
    /// over the replicas, then sent from the last stage (which alone computed a loss) to
    /// the others.
    private func stepTotals(lossSum: Double, count: Int) throws -> [Float] {
        var totals = [Float(lossSum), Float(count)]
        if let data = mesh?.data, data.size > 1 { try data.allReduce(&totals, count: 2, op: .sum, wire: .f32) }
        if let pipeline = mesh?.pipeline { try pipeline.broadcast(&totals, count: 2, root: pipeline.size - 1) }
        return totals
    }

    /// This stage's forwards and backwards of `batches` in 1F1B order; returns the summed
    /// loss (last stage only, else 0) and the seconds spent waiting for other stages.
    private func pipelineStep(_ batches: [TrainingBatch], pipeline: any Collective) throws -> (Double, Double) {
        let stage = pipeline.rank
        let last = pipeline.size - 1
        let width = model.config.embeddingLength
        var inFlight: [Int: (tape: Tape, input: Variable?, output: Variable)] = [:]
        var lossSum: Double = 0
        var waited: Double = 0
        func receive(_ count: Int, from source: Int) throws -> [Float] {
            var values = [Float](repeating: 0, count: count)
            let start = DispatchTime.now().uptimeNanoseconds
            try pipeline.receive(&values, count: count, from: source)
            waited += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            return values
        }
        for operation in PipelineSchedule(stages: pipeline.size, stage: stage, microBatches: batches.count).operations {
            switch operation {
            case .forward(let i):
                let batch = batches[i]
                let rows = batch.tokens.count
                let input =
                    stage == 0
                    ? nil : Variable(rows: rows, cols: width, value: try receive(rows * width, from: stage - 1), requiresGrad: true)
                let tape = Tape()
                var output = try model.forward(batch, input: input, tape: tape)
                if stage == last {
                    output = tape.crossEntropy(output, targets: batch.targets)
                    lossSum += Double(output.value[0]) * Double(batch.targetCount)
                } else {
                    try pipeline.send(output.value, count: output.count, to: stage + 1)
                }
                inFlight[i] = (tape, input, output)
            case .backward(let i):
                let (tape, input, output) = inFlight.removeValue(forKey: i)!
                if stage == last {
                    try tape.backward(from: output, seed: Float(batches[i].targetCount))
                } else {
                    try tape.backward(from: output, gradient: try receive(output.count, from: stage + 1))
                }
                if let input {
                    let gradient = input.grad.isEmpty ? [Float](repeating: 0, count: input.count) : input.grad
                    try pipeline.send(gradient, count: gradient.count, to: stage - 1)
                }
            }
        }
        return (lossSum, waited)
    }

    /// Runs `batch` forward through the pipeline without gradients; returns the summed loss
    /// and its count on the last stage, (0, 0) elsewhere.
    private func pipelineLoss(_ batch: TrainingBatch, pipeline: any Collective) throws -> (sum: Double, count: Int) {
        let stage = pipeline.rank
        let width = model.config.embeddingLength
        var input: Variable?
        if stage > 0 {
            var values = [Float](repeating: 0, count: batch.tokens.count * width)
            try pipeline.receive(&values, count: values.count, from: stage - 1)
            input = Variable(rows: batch.tokens.count, cols: width, value: values)
        }
        let output = try model.forward(batch, input: input, tape: Tape())
        guard stage == pipeline.size - 1 else {
            try pipeline.send(output.value, count: output.count, to: stage + 1)
            return (0, 0)
        }
        let n = batch.targetCount
        guard n > 0 else { return (0, 0) }
        return (Double(Tape().crossEntropy(output, targets: batch.targets).value[0]) * Double(n), n)
    }

    /// Mean loss and perplexity on the first `evalBatches` batches of the eval data.
    public func evaluate() throws -> (loss: Float, perplexity: Float)? {
        // Asynchronous workers hold different parameters; the lead's are the ones reported.
        guard var eval = evalLoader, exchange == nil || isLead else { return nil }
        try gatherParametersIfSharded()
        eval.position = DataPosition()
        let replicas = mesh?.data.size ?? 1
        let replica = mesh?.replica ?? 0
        var sum: Double = 0
        var count = 0
        for i in 0..<config.evalBatches {
            let batch = eval.next()
            guard i % replicas == replica else { continue }
            let part = try mesh?.pipeline.map { try pipelineLoss(batch, pipeline: $0) } ?? model.summedLoss(batch)
            sum += part.sum
            count += part.count
        }
        releaseParametersIfSharded()
        let totals = try stepTotals(lossSum: sum, count: count)
        guard totals[1] > 0 else { return nil }
        let loss = totals[0] / totals[1]
        return (loss, expf(loss))
    }

    // MARK: gradients across ranks

    func applyGradients(scale: Float, lr: Float) throws -> Float {
        try reduceWithinReplica()
        guard let parallel, let c = mesh?.data, c.size > 1 || parallel.zeroStage > 0 else {
            for p in parameters where !p.grad.isEmpty { Kernels.scale(&p.grad, scale) }
            return try stepAllParameters(lr: lr)
        }
        // With overlap the gradients were reduced during backward.
        var flat = overlap.map { Array($0.buffer) } ?? [Float](repeating: 0, count: layout.shardCount * c.size)
        if overlap == nil { layout.gather(parameters, into: &flat, gradients: true) }
        for p in parameters { p.zeroGrad() }
        if parallel.zeroStage <= 1 {
            if overlap == nil {
                // Bucketed all-reduce: large gradients go in several calls so a backend can
                // bound its buffers.
                try flat.withUnsafeMutableBufferPointer { f in
                    var at = 0
                    while at < f.count {
                        let n = min(parallel.bucketValues, f.count - at)
                        try c.allReduce(f.baseAddress! + at, count: n, op: .sum, wire: parallel.wire)
                        at += n
                    }
                }
            }
            Kernels.scale(&flat, scale)
            if parallel.zeroStage == 0 {
                layout.scatterGradients(flat, into: parameters)
                return try stepAllParameters(lr: lr)
            }
            shard!.grad = Array(flat[c.rank * layout.shardCount..<(c.rank + 1) * layout.shardCount])
        } else {
            var mine = [Float](repeating: 0, count: layout.shardCount)
            try c.reduceScatter(flat, &mine, shardCount: layout.shardCount, op: .sum, wire: parallel.wire)
            Kernels.scale(&mine, scale)
            shard!.grad = mine
        }
        let norm: Float
        if parallel.zeroStage == 1 {
            // The whole reduced gradient is here: sum its squares as the unsharded path does.
            norm = try globalNorm(squares: layout.sumOfSquares(flat, counted: countedInNorm))
        } else {
            // ZeRO-2/3 (no mesh): the norm needs every replica's sum of squares of its shard.
            var squares = [Float(shard!.grad.reduce(0.0) { $0 + Double($1 * $1) })]
            try c.allReduce(&squares, count: 1, op: .sum, wire: .f32)
            norm = squares[0].squareRoot()
        }
        if config.clipNorm > 0 && norm > config.clipNorm { Kernels.scale(&shard!.grad, config.clipNorm / norm) }
        optimizer.step([shard!], lr: lr)
        shard!.zeroGrad()
        if parallel.zeroStage < 3 {
            var full = [Float](repeating: 0, count: layout.shardCount * c.size)
            try c.allGather(shard!.value, &full, shardCount: layout.shardCount, wire: .f32)
            layout.scatter(full, into: parameters)
        }
        return norm
    }

    /// Makes the model's parameters whole (ZeRO-3 keeps only a shard between steps; a mesh
    /// spreads the model over a replica's ranks, whose parts the lead rank collects into
    /// `wholeModel`), e.g. before export. A collective call: every rank must make it.
    public func gatherParameters() throws {
        if let exchange {
            if let final = try exchange.finish() {
                layout.scatter(final.parameters, into: parameters)
                exchangeTotals = (final.applied, final.rejected)
            }
            return
        }
        try gatherParametersIfSharded()
        guard let mesh, let model = mesh.model, mesh.replica == 0 else { return }
        // Replica 0's ranks send their parts to its rank 0 (world rank 0), in rank order.
        if model.rank > 0 {
            let values = parameters.flatMap(\.value)
            try model.send(values, count: values.count, to: 0)
            return
        }
        for peer in 0..<model.size {
            let (stage, tensorRank) = (peer / mesh.layout.tensorParallel, peer % mesh.layout.tensorParallel)
            let part = try ModelPartition(
                config: whole!.config, stages: mesh.layout.stages, stage: stage, tensorParallel: mesh.layout.tensorParallel,
                tensorRank: tensorRank)
            let slots = whole!.slots(for: part)
            var values = [Float](repeating: 0, count: slots.reduce(0) { $0 + $1.count })
            if peer == 0 {
                values = parameters.flatMap(\.value)
            } else {
                try model.receive(&values, count: values.count, from: peer)
            }
            var at = 0
            for slot in slots {
                slot.write(values[at..<(at + slot.count)])
                at += slot.count
            }
        }
    }

    /// The whole trained model: this model without a mesh; under one, on the lead rank
    /// after `gatherParameters()` (nil on the others).
    public var wholeModel: TrainableLlama? {
        guard let mesh, mesh.model != nil else { return model }
        return whole
    }

    /// Clips the (final) gradients, updates every parameter and clears the gradients;
    /// returns the norm before clipping. Unsharded training, one rank or many.
    private func stepAllParameters(lr: Float) throws -> Float {
        let norm: Float
        if mesh?.model == nil {
            norm = clipGradients(parameters, maxNorm: config.clipNorm)
        } else {
            var squares: Double = 0
            for (p, counted) in zip(parameters, countedInNorm) where counted && !p.grad.isEmpty {
                for g in p.grad { squares += Double(g * g) }
            }
            norm = try globalNorm(squares: squares)
            if config.clipNorm > 0 && norm > config.clipNorm {
                for p in parameters where !p.grad.isEmpty { Kernels.scale(&p.grad, config.clipNorm / norm) }
            }
        }
        optimizer.step(parameters, lr: lr)
        for p in parameters { p.zeroGrad() }
        return norm
    }

    /// The gradient norm of the whole model from this rank's sum of squares (of the
    /// values it counts): summed over the replica's ranks.
    private func globalNorm(squares: Double) throws -> Float {
        var total = [Float(squares)]
        if let model = mesh?.model { try model.allReduce(&total, count: 1, op: .sum, wire: .f32) }
        return total[0].squareRoot()
    }

    /// Completes the gradients that are split within a replica: the partial sums of unsplit
    /// LoRA factors over the tensor group, and a tied embedding's two halves (its use as
    /// the input on the first stage, as the output on the last).
    private func reduceWithinReplica() throws {
        if let tensor = mesh?.tensor, !partialParameters.isEmpty {
            try allReduceGradients(partialParameters, over: tensor)
        }
        if let tied = mesh?.tied, let tiedEmbedding {
            try allReduceGradients([tiedEmbedding], over: tied)
        }
    }

    /// Sums the gradients of `variables` (missing ones count as zeros) over `group`.
    private func allReduceGradients(_ variables: [Variable], over group: any Collective) throws {
        let sublayout = FlatLayout(variables, ranks: 1)
        var flat = [Float](repeating: 0, count: sublayout.total)
        sublayout.gather(variables, into: &flat, gradients: true)
        try group.allReduce(&flat, count: flat.count, op: .sum, wire: .f32)
        sublayout.scatterGradients(flat, into: variables)
    }

    /// ZeRO-3: all-gathers the full parameters for a forward/backward pass.
    private func gatherParametersIfSharded() throws {
        guard let parallel, parallel.zeroStage == 3, let shard else { return }
        var full = [Float](repeating: 0, count: layout.shardCount * mesh!.data.size)
        try mesh!.data.allGather(shard.value, &full, shardCount: layout.shardCount, wire: .f32)
        layout.scatter(full, into: parameters)
    }

    /// ZeRO-3: drops the gathered parameters again.
    private func releaseParametersIfSharded() {
        guard parallel?.zeroStage == 3 else { return }
        layerGather?.reset()
        for p in parameters { p.value = [] }
    }

    // MARK: checkpoints

    /// The run's state now. Under ZeRO ≥ 1 each rank saves its own shard state.
    public func checkpoint() -> Checkpoint {
        let values: [[Float]] = shard.map { [$0.value] } ?? parameters.map(\.value)
        let names = shard == nil ? self.names : ["zero.shard.\(mesh!.data.rank)"]
        return Checkpoint(
            config: config, step: step, data: loader.position, losses: losses,
            parameterNames: names, parameters: values, optimizer: optimizer.state, shards: shard == nil ? nil : mesh!.data.size)
    }

    /// Whether this rank's checkpoint is one shard of a ZeRO state, restored with
    /// `restore(shards:)` at any world size.
    var checkpointsShards: Bool { shard != nil }

    /// Continues from a ZeRO checkpoint written by any number of ranks (`shards`: every
    /// rank's checkpoint of one step, in rank order): the flat parameters and optimiser
    /// state are put back together and cut again for this world.
    public func restore(shards: [Checkpoint]) throws {
        guard let first = shards.first, shard != nil, let data = mesh?.data else {
            throw TrainingError.invalidCheckpoint("a sharded checkpoint restores only under ZeRO ≥ 1; resume with a --zero of 1 or more")
        }
        guard shards.enumerated().allSatisfy({ $1.parameterNames == ["zero.shard.\($0)"] && $1.step == first.step }) else {
            throw TrainingError.invalidCheckpoint("the ranks' checkpoints are not the shards of one step, in rank order")
        }
        /// The concatenated shards cut to this rank's new shard (zero past the end).
        func reshard(_ parts: [[Float]]) throws -> [Float] {
            let flat = parts.flatMap { $0 }
            guard flat.count >= layout.total else {
                throw TrainingError.invalidCheckpoint(
                    "the checkpoint's shards hold \(flat.count) values, this model \(layout.total) (another base model or LoRA setting?)")
            }
            let start = data.rank * layout.shardCount
            return (start..<start + layout.shardCount).map { $0 < layout.total ? flat[$0] : 0 }
        }
        var optimizerState = first.optimizer
        optimizerState.buffers = try first.optimizer.buffers.indices.map { k in [try reshard(shards.map { $0.optimizer.buffers[k][0] })] }
        var mine = first
        mine.parameterNames = ["zero.shard.\(data.rank)"]
        mine.parameters = [try reshard(shards.map { $0.parameters[0] })]
        mine.optimizer = optimizerState
        mine.shards = data.size
        try restore(mine)
    }

    /// Continues from `checkpoint`, which must come from the same configuration and model.
    public func restore(_ checkpoint: Checkpoint) throws {
        guard checkpoint.config == config else {
            throw TrainingError.invalidCheckpoint("the checkpoint was made with other training settings; resume with the same options")
        }
        let expected = shard == nil ? names : ["zero.shard.\(mesh!.data.rank)"]
        let counts = shard == nil ? layout.counts : [layout.shardCount]
        guard checkpoint.parameterNames == expected, checkpoint.parameters.map(\.count) == counts else {
            throw TrainingError.invalidCheckpoint(
                "the checkpoint's parameters do not match this model (another base model or LoRA setting?)")
        }
        if let shard {
            shard.value = checkpoint.parameters[0]
            if parallel?.zeroStage ?? 0 < 3 {
                var full = [Float](repeating: 0, count: layout.shardCount * mesh!.data.size)
                try mesh!.data.allGather(shard.value, &full, shardCount: layout.shardCount, wire: .f32)
                layout.scatter(full, into: parameters)
            }
        } else {
            for (p, v) in zip(parameters, checkpoint.parameters) { p.value = v }
        }
        optimizer.state = checkpoint.optimizer
        loader.position = checkpoint.data
        step = checkpoint.step
        losses = checkpoint.losses
    }
}

extension FlatLayout {
    /// Copies flat gradients back into each parameter's `grad`.
    func scatterGradients(_ flat: [Float], into parameters: [Variable]) {
        for (i, p) in parameters.enumerated() {
            p.grad = Array(flat[offsets[i]..<offsets[i] + counts[i]])
        }
    }
}
