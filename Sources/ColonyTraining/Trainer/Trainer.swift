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
}

/// Runs the training loop: micro-batches → count-weighted gradients → (all-reduce or
/// reduce-scatter across ranks) → clip → optimiser step → (all-gather), with held-out
/// evaluation and checkpoints.
///
/// The gradient of a step is that of the token-weighted mean loss over everything the step
/// saw, however it was split into micro-batches or ranks: each micro-batch's summed-token
/// gradient is added up and divided by the total count once. So N ranks on N slices give
/// the same update as one rank on the whole batch.
public final class Trainer {
    public let model: TrainableLlama
    public let config: TrainingConfiguration
    public var loader: BatchLoader
    public let evalLoader: BatchLoader?
    public let parallel: ParallelConfiguration?
    public private(set) var step = 0
    public private(set) var losses: [Float] = []
    let optimizer: any Optimizer
    let parameters: [Variable]
    let names: [String]
    private let layout: FlatLayout
    /// ZeRO ≥ 1: this rank's slice of the flat parameters, with its gradient slice.
    private let shard: Variable?

    public init(
        model: TrainableLlama, config: TrainingConfiguration, loader: BatchLoader, evalLoader: BatchLoader? = nil,
        parallel: ParallelConfiguration? = nil
    ) throws {
        try config.validate()
        Allocator.tuned
        self.model = model
        self.config = config
        self.loader = loader
        self.evalLoader = evalLoader
        self.parallel = parallel
        optimizer = config.makeOptimizer()
        let named = model.parameters
        guard !named.isEmpty else { throw TrainingError.invalidModel("the model has no trainable parameters") }
        parameters = named.map(\.variable)
        names = named.map(\.name)
        let ranks = parallel?.collective.size ?? 1
        layout = FlatLayout(parameters, ranks: ranks)
        if let parallel, parallel.zeroStage >= 1 {
            let rank = parallel.collective.rank
            var flat = [Float](repeating: 0, count: layout.shardCount * ranks)
            layout.gather(parameters, into: &flat, gradients: false)
            let slice = Array(flat[rank * layout.shardCount..<(rank + 1) * layout.shardCount])
            shard = Variable(rows: 1, cols: layout.shardCount, value: slice, requiresGrad: true)
            if parallel.zeroStage == 3 { for p in parameters { p.value = [] } }
        } else {
            shard = nil
        }
    }

    /// Bytes this rank holds between steps (parameters, gradients, optimiser state).
    public var footprint: MemoryFootprint {
        let stage = parallel?.zeroStage ?? 0
        let parameterBytes = 4 * (stage == 3 ? shard!.count : parameters.reduce(0) { $0 + $1.value.count })
        let gradientBytes = 4 * (stage >= 2 ? shard!.count : layout.total)
        let optimizerBytes = 4 * optimizer.state.buffers.reduce(0) { $0 + $1.reduce(0) { $0 + $1.count } }
        return MemoryFootprint(parameterBytes: parameterBytes, gradientBytes: gradientBytes, optimizerBytes: optimizerBytes)
    }

    /// Total trainable values (the model's, not a shard's).
    public var parameterCount: Int { layout.total }

    /// One optimiser step over `accumulation` micro-batches per rank from the loader.
    ///
    /// Every rank advances the same loader through ranks × accumulation batches and keeps
    /// every size-th one from its rank on: the ranks see disjoint data, and their loader
    /// positions stay equal (so any rank's checkpoint resumes the data for all).
    @discardableResult
    public func trainStep() throws -> StepReport {
        let ranks = parallel?.collective.size ?? 1
        let rank = parallel?.collective.rank ?? 0
        let all = (0..<config.accumulation * ranks).map { _ in loader.next() }
        return try trainStep(batches: all.enumerated().filter { $0.offset % ranks == rank }.map(\.element))
    }

    /// One optimiser step over the given micro-batches (this rank's share of the step).
    @discardableResult
    public func trainStep(batches: [TrainingBatch]) throws -> StepReport {
        let started = DispatchTime.now().uptimeNanoseconds
        try gatherParametersIfSharded()
        var lossSum: Double = 0
        var count = 0
        for batch in batches {
            let n = batch.targetCount
            guard n > 0 else { continue }
            let tape = Tape()
            let loss = model.loss(batch, tape: tape)
            tape.backward(from: loss, seed: Float(n))  // summed-token gradient; divided by the total below
            lossSum += Double(loss.value[0]) * Double(n)
            count += n
        }
        var totals = [Float(lossSum), Float(count)]
        if let parallel { try parallel.collective.allReduce(&totals, count: 2, op: .sum, wire: .f32) }
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
            seconds: Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9)
    }

    /// Mean loss and perplexity on the first `evalBatches` batches of the eval data.
    public func evaluate() throws -> (loss: Float, perplexity: Float)? {
        guard var eval = evalLoader else { return nil }
        try gatherParametersIfSharded()
        eval.position = DataPosition()
        let ranks = parallel?.collective.size ?? 1
        let rank = parallel?.collective.rank ?? 0
        var sum: Double = 0
        var count = 0
        for i in 0..<config.evalBatches {
            let batch = eval.next()
            guard i % ranks == rank else { continue }
            let part = model.summedLoss(batch)
            sum += part.sum
            count += part.count
        }
        releaseParametersIfSharded()
        var totals = [Float(sum), Float(count)]
        if let parallel { try parallel.collective.allReduce(&totals, count: 2, op: .sum, wire: .f32) }
        guard totals[1] > 0 else { return nil }
        let loss = totals[0] / totals[1]
        return (loss, expf(loss))
    }

    // MARK: gradients across ranks

    private func applyGradients(scale: Float, lr: Float) throws -> Float {
        guard let parallel, parallel.collective.size > 1 || parallel.zeroStage > 0 else {
            for p in parameters where !p.grad.isEmpty { Kernels.scale(&p.grad, scale) }
            return stepAllParameters(lr: lr)
        }
        let c = parallel.collective
        var flat = [Float](repeating: 0, count: layout.shardCount * c.size)
        layout.gather(parameters, into: &flat, gradients: true)
        for p in parameters { p.zeroGrad() }
        if parallel.zeroStage <= 1 {
            // Bucketed all-reduce: large gradients go in several calls so a backend can
            // overlap or bound its buffers.
            try flat.withUnsafeMutableBufferPointer { f in
                var at = 0
                while at < f.count {
                    let n = min(parallel.bucketValues, f.count - at)
                    try c.allReduce(f.baseAddress! + at, count: n, op: .sum, wire: parallel.wire)
                    at += n
                }
            }
            Kernels.scale(&flat, scale)
            if parallel.zeroStage == 0 {
                layout.scatterGradients(flat, into: parameters)
                return stepAllParameters(lr: lr)
            }
            shard!.grad = Array(flat[c.rank * layout.shardCount..<(c.rank + 1) * layout.shardCount])
        } else {
            var mine = [Float](repeating: 0, count: layout.shardCount)
            try c.reduceScatter(flat, &mine, shardCount: layout.shardCount, op: .sum, wire: parallel.wire)
            Kernels.scale(&mine, scale)
            shard!.grad = mine
        }
        // Sharded: the global norm needs every rank's sum of squares.
        var squares = [Float(shard!.grad.reduce(0.0) { $0 + Double($1 * $1) })]
        try c.allReduce(&squares, count: 1, op: .sum, wire: .f32)
        let norm = squares[0].squareRoot()
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

    /// Makes the model's parameters whole on this rank (ZeRO-3 keeps only a shard between
    /// steps), e.g. before export. A collective call under ZeRO-3: every rank must make it.
    public func gatherParameters() throws { try gatherParametersIfSharded() }

    /// Clips the (final) gradients, updates every parameter and clears the gradients;
    /// returns the norm before clipping. Unsharded training, one rank or many.
    private func stepAllParameters(lr: Float) -> Float {
        let norm = clipGradients(parameters, maxNorm: config.clipNorm)
        optimizer.step(parameters, lr: lr)
        for p in parameters { p.zeroGrad() }
        return norm
    }

    /// ZeRO-3: all-gathers the full parameters for a forward/backward pass.
    private func gatherParametersIfSharded() throws {
        guard let parallel, parallel.zeroStage == 3, let shard else { return }
        var full = [Float](repeating: 0, count: layout.shardCount * parallel.collective.size)
        try parallel.collective.allGather(shard.value, &full, shardCount: layout.shardCount, wire: .f32)
        layout.scatter(full, into: parameters)
    }

    /// ZeRO-3: drops the gathered parameters again.
    private func releaseParametersIfSharded() {
        guard parallel?.zeroStage == 3 else { return }
        for p in parameters { p.value = [] }
    }

    // MARK: checkpoints

    /// The run's state now. Under ZeRO ≥ 1 each rank saves its own shard state.
    public func checkpoint() -> Checkpoint {
        let values: [[Float]] = shard.map { [$0.value] } ?? parameters.map(\.value)
        let names = shard == nil ? self.names : ["zero.shard.\(parallel!.collective.rank)"]
        return Checkpoint(
            config: config, step: step, data: loader.position, losses: losses,
            parameterNames: names, parameters: values, optimizer: optimizer.state)
    }

    /// Continues from `checkpoint`, which must come from the same configuration and model.
    public func restore(_ checkpoint: Checkpoint) throws {
        guard checkpoint.config == config else {
            throw TrainingError.invalidCheckpoint("the checkpoint was made with other training settings; resume with the same options")
        }
        let expected = shard == nil ? names : ["zero.shard.\(parallel!.collective.rank)"]
        let counts = shard == nil ? layout.counts : [layout.shardCount]
        guard checkpoint.parameterNames == expected, checkpoint.parameters.map(\.count) == counts else {
            throw TrainingError.invalidCheckpoint(
                "the checkpoint's parameters do not match this model (another base model or LoRA setting?)")
        }
        if let shard {
            shard.value = checkpoint.parameters[0]
            if parallel?.zeroStage ?? 0 < 3 {
                var full = [Float](repeating: 0, count: layout.shardCount * parallel!.collective.size)
                try parallel!.collective.allGather(shard.value, &full, shardCount: layout.shardCount, wire: .f32)
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
