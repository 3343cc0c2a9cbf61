import ColonyCollectives
import ColonyModels
import Foundation
import Testing

@testable import ColonyTraining

/// A tiny random model and batches of a repeating pattern it can learn.
enum TinyTraining {
    static let config = LlamaConfiguration(
        vocabularySize: 48, embeddingLength: 32, blockCount: 2, feedForwardLength: 64,
        headCount: 4, kvHeadCount: 2, contextLength: 64)

    static func examples(_ count: Int, length: Int = 12) -> [TrainingExample] {
        (0..<count).map { i in
            let tokens = (0..<length).map { Int32(($0 * 3 + i) % 40 + 1) }
            return TrainingExample(tokens: tokens, trained: tokens.indices.map { $0 >= 2 })
        }
    }

    static func settings(steps: Int = 6, lr: Float = 3e-3) -> TrainingConfiguration {
        var c = TrainingConfiguration()
        c.steps = steps
        c.batchSize = 2
        c.sequenceLength = 16
        c.learningRate = lr
        c.warmupSteps = 2
        return c
    }

    static func trainer(_ settings: TrainingConfiguration, parallel: ParallelConfiguration? = nil, seed: UInt64 = 7) throws -> Trainer {
        let loader = BatchLoader(examples: examples(10), batchSize: settings.batchSize, length: settings.sequenceLength, seed: 1)
        return try Trainer(
            model: TrainableLlama(config: config, seed: seed), config: settings, loader: loader,
            evalLoader: BatchLoader(examples: examples(4), batchSize: 2, length: 16, seed: 2), parallel: parallel)
    }

    static func values(_ t: Trainer) -> [[Float]] { t.model.parameters.map(\.variable.value) }
}

@Suite("Trainer")
struct TrainerTests {
    @Test("AdamW lowers the loss of a learnable pattern")
    func learns() throws {
        let t = try TinyTraining.trainer(TinyTraining.settings(steps: 40, lr: 1e-2))
        let before = try #require(try t.evaluate())
        for _ in 0..<40 { try t.trainStep() }
        let after = try #require(try t.evaluate())
        #expect(after.loss < before.loss * 0.5, "eval loss \(before.loss) → \(after.loss)")
        #expect(abs(after.perplexity - expf(after.loss)) < 1e-3 * after.perplexity)
    }

    @Test("SGD with momentum also lowers the loss")
    func sgd() throws {
        var s = TinyTraining.settings(steps: 30, lr: 0.3)
        s.optimizer = .sgd
        let t = try TinyTraining.trainer(s)
        for _ in 0..<30 { try t.trainStep() }
        #expect(t.losses.last! < t.losses.first! * 0.7, "\(t.losses)")
    }

    @Test("resuming from a checkpoint gives the same loss curve and weights")
    func resume() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("colony-ckpt-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let straight = try TinyTraining.trainer(TinyTraining.settings())
        for _ in 0..<6 { try straight.trainStep() }

        let first = try TinyTraining.trainer(TinyTraining.settings())
        for step in 1...3 {
            try first.trainStep()
            try first.checkpoint().write(to: dir, keep: 2)
            #expect(Checkpoint.list(in: dir).count == min(step, 2), "keeps the newest 2")
        }
        let latest = try #require(Checkpoint.list(in: dir).last)
        let resumed = try TinyTraining.trainer(TinyTraining.settings(), seed: 99)  // other init: the checkpoint must win
        try resumed.restore(Checkpoint.read(latest))
        for _ in 0..<3 { try resumed.trainStep() }
        #expect(resumed.losses == straight.losses)
        #expect(TinyTraining.values(resumed) == TinyTraining.values(straight))

        var other = TinyTraining.settings()
        other.learningRate = 1
        #expect(throws: TrainingError.self) { try TinyTraining.trainer(other).restore(Checkpoint.read(latest)) }
        try Data("COLONYCK\u{1}".utf8).write(to: URL(fileURLWithPath: latest))
        #expect(throws: TrainingError.self) { try Checkpoint.read(latest) }
    }

    @Test("gradient accumulation equals one big batch")
    func accumulation() throws {
        let loader = BatchLoader(examples: TinyTraining.examples(10), batchSize: 2, length: 16, seed: 1)
        var l = loader
        let whole = l.next()
        let halves = Self.split(whole)
        var two = TinyTraining.settings()
        two.microBatches = 2
        two.batchSize = 4
        let a = try TinyTraining.trainer(TinyTraining.settings())
        let b = try TinyTraining.trainer(two)
        try a.trainStep(batches: [whole])
        try b.trainStep(batches: halves)
        #expect(Self.maxDifference(TinyTraining.values(a), TinyTraining.values(b)) < 1e-5)
    }

    @Test("data parallel on 2 ranks equals 1 rank on the combined batch; ZeRO 1, 2, 3 equal plain data parallel", arguments: [0, 1, 2, 3])
    func dataParallel(stage: Int) throws {
        var loader = BatchLoader(examples: TinyTraining.examples(10), batchSize: 2, length: 16, seed: 1)
        let batches = (0..<3).map { _ in loader.next() }
        let single = try TinyTraining.trainer(TinyTraining.settings())
        for b in batches { try single.trainStep(batches: [b]) }
        let expected = TinyTraining.values(single)

        let results = try InProcessCollective.run(size: 2) { c in
            let t = try TinyTraining.trainer(
                TinyTraining.settings(), parallel: ParallelConfiguration(collective: c, zeroStage: stage, bucketValues: 1000))
            for b in batches { try t.trainStep(batches: [Self.split(b)[c.rank]]) }
            let footprint = t.footprint
            if stage == 3 { _ = try t.evaluate() }  // gathers, then releases again
            let theory = MemoryFootprint.theory(parameters: t.parameterCount, ranks: 2, stage: stage, optimizerBuffers: 2)
            return (TinyTraining.values(t).map { $0.isEmpty ? [] : $0 }, footprint, theory, t.losses)
        }
        for (values, footprint, theory, losses) in results {
            #expect(footprint == theory, "stage \(stage): held \(footprint), theory \(theory)")
            #expect(losses == single.losses || zip(losses, single.losses).allSatisfy { abs($0 - $1) < 1e-5 })
            if stage < 3 { #expect(Self.maxDifference(values, expected) < 1e-5) }
        }
    }

    @Test("all-reducing each bucket of layers during backward (overlap) gives the bits of reducing after it", arguments: [0, 1])
    func overlappedReduction(stage: Int) throws {
        func run(overlap: Bool) throws -> [([[Float]], [Float])] {
            try InProcessCollective.run(size: 3) { c in
                var settings = TinyTraining.settings()
                settings.microBatches = 2
                // 300 values a bucket: a layer of the tiny model is several, the two layers two buckets or more.
                let parallel = try ParallelConfiguration(collective: c, zeroStage: stage, bucketValues: 300, overlap: overlap)
                let t = try TinyTraining.trainer(settings, parallel: parallel)
                for _ in 0..<3 { try t.trainStep() }
                return (TinyTraining.values(t), t.losses)
            }
        }
        let overlapped = try run(overlap: true)
        let after = try run(overlap: false)
        for (a, b) in zip(overlapped, after) {
            let same = a.0 == b.0 && a.1 == b.1
            #expect(same, "the same parameters and losses, bit for bit (largest difference \(Self.maxDifference(a.0, b.0)))")
        }
    }

    @Test("ZeRO-3 gathering a layer at a time (prefetching the next) gives the bits of gathering the model, holding two of four layers")
    func zero3ByLayer() throws {
        var loader = BatchLoader(examples: TinyTraining.examples(10), batchSize: 1, length: 16, seed: 1)
        let batches = (0..<6).map { _ in loader.next() }
        var blank = batches[0]
        blank.targets = blank.targets.map { _ in -1 }
        let untrained = blank
        var deeper = TinyTraining.config
        deeper.blockCount = 4
        let config = deeper
        @Sendable func trainer(_ parallel: ParallelConfiguration?) throws -> Trainer {
            try Trainer(
                model: TrainableLlama(config: config, seed: 7), config: TinyTraining.settings(),
                loader: BatchLoader(examples: TinyTraining.examples(10), batchSize: 2, length: 16, seed: 1), parallel: parallel)
        }
        func run(byLayer: Bool) throws -> [([[Float]], [Float], Int)] {
            try InProcessCollective.run(size: 3) { c in
                let t = try trainer(ParallelConfiguration(collective: c, zeroStage: 3, gatherByLayer: byLayer))
                for step in 0..<2 {
                    // Rank 2's second micro-batch has no target: it makes the gathers of a pass without one.
                    let mine = [batches[step * 3 + c.rank], c.rank == 2 ? untrained : batches[(step * 3 + c.rank + 1) % 6]]
                    try t.trainStep(batches: mine)
                }
                try t.gatherParameters()
                return (TinyTraining.values(t), t.losses, t.layerGather?.peakLayerValues ?? 0)
            }
        }
        let byLayer = try run(byLayer: true)
        let whole = try run(byLayer: false)
        for (a, b) in zip(byLayer, whole) {
            let same = a.0 == b.0 && a.1 == b.1
            #expect(same, "the same parameters and losses, bit for bit (largest difference \(Self.maxDifference(a.0, b.0)))")
        }
        let perLayer = try trainer(nil).model.placedParameters.filter { $0.name.hasPrefix("blk.0.") }.reduce(0) { $0 + $1.variable.count }
        #expect(byLayer[0].2 == 2 * perLayer, "two of the four layers at the most (the one computing, the one prefetched)")
    }

    /// The sequences of a batch, one batch each.
    static func split(_ b: TrainingBatch) -> [TrainingBatch] {
        (0..<b.sequences).map { s in
            let r = s * b.length..<(s + 1) * b.length
            return TrainingBatch(
                tokens: Array(b.tokens[r]), positions: Array(b.positions[r]), segmentStart: Array(b.segmentStart[r]),
                targets: Array(b.targets[r]), sequences: 1, length: b.length)
        }
    }

    static func maxDifference(_ a: [[Float]], _ b: [[Float]]) -> Float {
        zip(a, b).reduce(0) { m, p in zip(p.0, p.1).reduce(m) { max($0, abs($1.0 - $1.1)) } }
    }
}
