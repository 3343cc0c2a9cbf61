import ColonyCollectives
import ColonyModels
import Foundation
import Testing

@testable import ColonyTraining

/// Pipeline, tensor and mixed meshes of in-process ranks against one process.
enum MeshTraining {
    /// 3 layers (stages split 2 + 1) and 3 KV groups of 2 query heads (tensor ranks 2 + 1).
    static let config = LlamaConfiguration(
        vocabularySize: 48, embeddingLength: 48, blockCount: 3, feedForwardLength: 40,
        headCount: 6, kvHeadCount: 3, contextLength: 64)

    static func settings(batch: Int, microBatches: Int) -> TrainingConfiguration {
        var c = TinyTraining.settings(steps: 3, lr: 3e-3)
        c.batchSize = batch
        c.microBatches = microBatches
        c.evalBatches = 2
        return c
    }

    static func trainer(_ settings: TrainingConfiguration, tied: Bool, parallel: ParallelConfiguration? = nil) throws -> Trainer {
        let loader = BatchLoader(examples: TinyTraining.examples(10), batchSize: settings.microBatchSize, length: 16, seed: 1)
        return try Trainer(
            model: TrainableLlama(config: config, tiedOutput: tied, seed: 3), config: settings, loader: loader,
            evalLoader: BatchLoader(examples: TinyTraining.examples(4), batchSize: 2, length: 16, seed: 2), parallel: parallel)
    }

    /// LoRA on every projection of the quantized tiny model (2 layers, 2 KV groups), its
    /// frozen products in float32 or (`int16`) through the inference kernels.
    static func loraTrainer(_ parallel: ParallelConfiguration?, int16: Bool) throws -> Trainer {
        let gguf = try GGUFFile(contentsOf: TrainingFixtures.path("tiny-llama-untied.gguf"))
        var settings = settings(batch: 2, microBatches: 2)
        settings.learningRate = 2e-2
        let examples = (0..<6).map { i in
            TrainingExample(tokens: (0..<12).map { Int32(($0 * 7 + i) % 300 + 1) }, trained: (0..<12).map { $0 >= 3 })
        }
        return try Trainer(
            model: TrainableLlama(
                gguf: gguf, lora: LoRAConfiguration(rank: 4, alpha: 8, targets: LoRAConfiguration.allTargets),
                packedRuntime: int16 ? PackedRuntime(threads: 1) : nil, seed: 5),
            config: settings, loader: BatchLoader(examples: examples, batchSize: 1, length: 16, seed: 1), parallel: parallel)
    }

    struct Outcome: Sendable {
        var losses: [Float]
        var norms: [Float]
        var values: [[Float]]
        var eval: Float
    }

    /// One process with the global batch of `replicas` replicas: their micro-batches in turn.
    static func single(replicas: Int, tied: Bool) throws -> Outcome {
        let t = try trainer(settings(batch: 2 * replicas, microBatches: 2 * replicas), tied: tied)
        let norms = try (0..<3).map { _ in try t.trainStep().gradientNorm }
        return Outcome(losses: t.losses, norms: norms, values: TinyTraining.values(t), eval: try #require(try t.evaluate()).loss)
    }

    /// Three steps of 2 micro-batches of 1 sequence per replica, on a mesh of in-process ranks.
    static func run(stages: Int, tensor: Int, replicas: Int, zero: Int = 0, tied: Bool) throws -> Outcome {
        let outcomes = try InProcessCollective.run(size: stages * tensor * replicas) { c in
            let parallel = try ParallelConfiguration(
                collective: c, zeroStage: zero, bucketValues: 500, pipelineStages: stages, tensorParallel: tensor)
            let t = try trainer(settings(batch: 2, microBatches: 2), tied: tied, parallel: parallel)
            let norms = try (0..<3).map { _ in try t.trainStep().gradientNorm }
            let eval = try t.evaluate()?.loss ?? .nan
            try t.gatherParameters()
            return Outcome(
                losses: t.losses, norms: norms, values: t.wholeModel.map { $0.parameters.map(\.variable.value) } ?? [], eval: eval)
        }
        for o in outcomes { #expect(o.losses == outcomes[0].losses, "every rank reports the same losses") }
        return outcomes[0]
    }
}

@Suite("Model-parallel training")
struct ModelParallelTests {
    @Test("1F1B: warm-up forwards, alternation, cool-down; every micro-batch once each way, forward first")
    func schedule() {
        let ops = PipelineSchedule(stages: 4, stage: 1, microBatches: 5).operations
        #expect(
            ops == [
                .forward(0), .forward(1), .forward(2), .backward(0), .forward(3), .backward(1), .forward(4), .backward(2),
                .backward(3), .backward(4),
            ])
        for stages in 1...4 {
            for stage in 0..<stages {
                for m in [1, 2, 3, 8] {
                    let ops = PipelineSchedule(stages: stages, stage: stage, microBatches: m).operations
                    #expect(ops.count == 2 * m)
                    var inFlight = 0
                    for (i, op) in ops.enumerated() {
                        switch op {
                        case .forward(let j):
                            inFlight += 1
                            #expect(!ops[..<i].contains(.forward(j)))
                        case .backward(let j):
                            inFlight -= 1
                            #expect(ops[..<i].contains(.forward(j)))
                        }
                        #expect(inFlight <= stages - stage, "at most S − s micro-batches are held")
                    }
                }
            }
        }
        #expect(PipelineSchedule(stages: 4, stage: 0, microBatches: 8).theoreticalBubble == 3.0 / 11)
    }

    @Test("partitions: stages balance layers against the output projection, tensor ranks deal out whole KV groups (3 on 2: 2 + 1)")
    func partitions() throws {
        let c = LlamaConfiguration(
            vocabularySize: 100, embeddingLength: 576, blockCount: 30, feedForwardLength: 1536, headCount: 9, kvHeadCount: 3,
            contextLength: 64)
        let first = try ModelPartition(config: c, stages: 4, stage: 0, tensorParallel: 2, tensorRank: 0)
        let second = try ModelPartition(config: c, stages: 4, stage: 3, tensorParallel: 2, tensorRank: 1)
        #expect(first.layers == 0..<8 && second.layers == 23..<30)
        #expect(first.kvGroups == 0..<2 && first.heads == 0..<6)
        #expect(second.kvGroups == 2..<3 && second.heads == 6..<9)
        #expect(first.feedForward == 0..<768 && second.feedForward == 768..<1536)
        #expect(
            throws: TrainingError.invalidArgument(
                "--tensor-parallel 4 is more than the model's 3 KV groups; a rank holds whole KV groups with their query heads, so use at most 3"
            )
        ) {
            try ModelPartition(config: c, stages: 1, stage: 0, tensorParallel: 4, tensorRank: 0)
        }
        #expect(
            throws: TrainingError.invalidArgument(
                "--pipeline-stages 31 is more than the model's 30 layers; every stage needs at least one layer")
        ) {
            try ModelPartition(config: c, stages: 31, stage: 0, tensorParallel: 1, tensorRank: 0)
        }
        // SmolLM2's output projection costs as much as 8 layers: the last of 2 stages takes 11.
        let smol = LlamaConfiguration(
            vocabularySize: 49152, embeddingLength: 576, blockCount: 30, feedForwardLength: 1536, headCount: 9, kvHeadCount: 3,
            contextLength: 64)
        #expect(ModelPartition.stageLayers(smol, stages: 2) == [0..<19, 19..<30])
        #expect(ModelPartition.stageLayers(smol, stages: 4) == [0..<10, 10..<20, 20..<29, 29..<30])
        #expect(ModelPartition.stageLayers(c, stages: 2) == [0..<15, 15..<30])
        let layout = try MeshLayout(worldSize: 8, stages: 2, tensorParallel: 2)
        #expect(layout.replicas == 2)
        #expect(layout.coordinates(of: 6) == (1, 1, 0) && layout.rank(replica: 1, stage: 1, tensorRank: 0) == 6)
        #expect(throws: TrainingError.self) { try MeshLayout(worldSize: 6, stages: 2, tensorParallel: 2) }
    }

    @Test("bad layouts are refused with the reason")
    func refusals() throws {
        let world = InProcessCollective.group(size: 1)[0]
        #expect(
            throws: TrainingError.invalidArgument(
                "a replica of 2 pipeline stages × 2 tensor-parallel ranks needs 4 ranks, which does not divide the 1 ranks of the job; launch a multiple of 4"
            )
        ) {
            try ParallelConfiguration(collective: world, pipelineStages: 2, tensorParallel: 2)
        }
        let twoRanks = InProcessCollective.group(size: 2)[0]
        #expect(throws: TrainingError.self) { try ParallelConfiguration(collective: twoRanks, zeroStage: 2, pipelineStages: 2) }
        var settings = MeshTraining.settings(batch: 3, microBatches: 2)
        #expect(
            throws: TrainingError.invalidArgument(
                "--batch 3 is not divisible by --micro-batches 2; every micro-batch must hold the same number of sequences")
        ) {
            try settings.validate()
        }
        settings.batchSize = 4
        try settings.validate()
        // More stages than layers, and more tensor ranks than KV groups, fail on every rank.
        for (stages, tensor) in [(4, 1), (1, 4)] {
            #expect(throws: TrainingError.self) {
                _ = try InProcessCollective.run(size: stages * tensor) { c in
                    _ = try MeshTraining.trainer(
                        MeshTraining.settings(batch: 2, microBatches: 2), tied: true,
                        parallel: ParallelConfiguration(collective: c, pipelineStages: stages, tensorParallel: tensor))
                    return 0
                }
            }
        }
    }

    @Test(
        "pipeline, tensor and mixed meshes follow one process: losses, gradient norms, weights, evaluation",
        arguments: [
            (2, 1, 1, 0, true), (3, 1, 1, 0, false), (1, 2, 1, 0, true), (1, 3, 1, 0, false), (2, 2, 1, 0, true),
            (2, 2, 2, 1, true), (2, 1, 2, 0, false),
        ])
    func meshEqualsOneProcess(stages: Int, tensor: Int, replicas: Int, zero: Int, tied: Bool) throws {
        let single = try MeshTraining.single(replicas: replicas, tied: tied)
        let mesh = try MeshTraining.run(stages: stages, tensor: tensor, replicas: replicas, zero: zero, tied: tied)
        let label = "\(replicas) × \(stages) stages × \(tensor) tensor, ZeRO \(zero), \(tied ? "tied" : "untied")"
        #expect(zip(mesh.losses, single.losses).allSatisfy { abs($0 - $1) < 1e-5 }, "\(label): \(mesh.losses) vs \(single.losses)")
        #expect(zip(mesh.norms, single.norms).allSatisfy { abs($0 - $1) < 1e-4 * max(1, $1) }, "\(label): \(mesh.norms) vs \(single.norms)")
        #expect(single.norms.contains { $0 > 1 }, "clipping (at 1) takes part")
        #expect(abs(mesh.eval - single.eval) < 1e-5, "\(label): eval \(mesh.eval) vs \(single.eval)")
        #expect(mesh.values.count == single.values.count)
        #expect(TrainerTests.maxDifference(mesh.values, single.values) < 1e-5, "\(label)")
    }

    @Test(
        "LoRA on a quantized base, float32 or int16 products: pipeline × tensor parallel follows one process",
        arguments: [false, true])
    func loraMesh(int16: Bool) throws {
        let single = try MeshTraining.loraTrainer(nil, int16: int16)
        for _ in 0..<3 { try single.trainStep() }
        let expected = TinyTraining.values(single)
        let results = try InProcessCollective.run(size: 4) { c in
            let t = try MeshTraining.loraTrainer(ParallelConfiguration(collective: c, pipelineStages: 2, tensorParallel: 2), int16: int16)
            for _ in 0..<3 { try t.trainStep() }
            try t.gatherParameters()
            return (t.losses, t.wholeModel.map { $0.parameters.map(\.variable.value) } ?? [])
        }
        // int16 products quantise each block of activations: the tensor ranks' reordered
        // sums (1e-7 apart) move some values across a rounding step, about 1e-4 of the block's
        // largest, so the runs drift apart by that much; a missing reduction moves weights by
        // the learning rate (2e-2).
        let tolerance: Float = int16 ? 1e-3 : 1e-5
        #expect(zip(results[0].0, single.losses).allSatisfy { abs($0 - $1) < tolerance }, "\(results[0].0) vs \(single.losses)")
        #expect(results[0].1.count == expected.count)
        #expect(TrainerTests.maxDifference(results[0].1, expected) < tolerance)
        #expect(expected.contains { $0.contains { $0 != 0 } }, "the adapters moved")
    }
}
