import ColonyCollectives
import Foundation
import Testing

@testable import ColonyTraining

@Suite("Elastic training: restarts, checkpoints at any world size, background checkpoints")
struct ElasticTests {
    /// Elastic settings: a global batch of 4 sequences in 4 micro-batches, dealt to the ranks.
    static func settings() -> TrainingConfiguration {
        var s = TinyTraining.settings(steps: 8)
        s.batchSize = 4
        s.microBatches = 4
        return s
    }

    static func trainer(_ c: any Collective, zero: Int) throws -> Trainer {
        let s = settings()
        let loader = BatchLoader(examples: TinyTraining.examples(10), batchSize: s.microBatchSize, length: 16, seed: 1)
        return try Trainer(
            model: TrainableLlama(config: TinyTraining.config, seed: 7), config: s, loader: loader,
            parallel: ParallelConfiguration(collective: c, zeroStage: zero, bucketValues: 700, elastic: true))
    }

    /// `steps` steps on `ranks` in-process ranks (after restoring `shards`, if any); returns
    /// rank 0's losses, its checkpoint at the end, and every rank's.
    static func run(ranks: Int, zero: Int, steps: Int, from shards: [Checkpoint]? = nil) throws -> (
        losses: [Float], checkpoints: [Checkpoint]
    ) {
        let results = try InProcessCollective.run(size: ranks) { c in
            let t = try trainer(c, zero: zero)
            if let shards { try t.restore(shards: shards) }
            for _ in 0..<steps { try t.trainStep() }
            return (t.losses, t.checkpoint())
        }
        return (results[0].0, results.map(\.1))
    }

    @Test("the global batch and data order do not depend on the world size: 1, 2 and 3 ranks follow one curve")
    func worldSizeFree() throws {
        let one = try Self.run(ranks: 1, zero: 0, steps: 4).losses
        for ranks in [2, 3] {
            let many = try Self.run(ranks: ranks, zero: 0, steps: 4).losses
            #expect(zip(one, many).allSatisfy { abs($0 - $1) < 1e-5 }, "\(ranks) ranks: \(many) vs \(one)")
        }
    }

    @Test("ZeRO shards written by 2 ranks load at 1, 2 and 3 ranks and go on along the same curve", arguments: [1, 2, 3])
    func reshard(zero: Int) throws {
        let straight = try Self.run(ranks: 2, zero: zero, steps: 6).losses
        let first = try Self.run(ranks: 2, zero: zero, steps: 3)
        #expect(first.checkpoints.map(\.shards) == [2, 2])
        for ranks in [1, 2, 3] {
            let resumed = try Self.run(ranks: ranks, zero: zero, steps: 3, from: first.checkpoints)
            #expect(resumed.losses.count == 6, "the losses so far come back with the state")
            let tail = Array(resumed.losses.suffix(3))
            let expected = Array(straight.suffix(3))
            if ranks == 2 {
                #expect(tail == expected, "same world: the same bits")
            } else {
                #expect(zip(tail, expected).allSatisfy { abs($0 - $1) < 1e-5 }, "\(ranks) ranks: \(tail) vs \(expected)")
            }
        }
        #expect(throws: TrainingError.self) { try Self.run(ranks: 2, zero: zero, steps: 1, from: Array(first.checkpoints.reversed())) }
    }

    @Test("a checkpoint written in the background while training goes on equals one written synchronously")
    func backgroundCheckpoint() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("colony-bg-ckpt-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let t = try TinyTraining.trainer(TinyTraining.settings(steps: 10))
        for _ in 0..<3 { try t.trainStep() }
        let writer = CheckpointWriter()
        try writer.write(t.checkpoint(), to: dir, keep: 3)
        for _ in 0..<4 { try t.trainStep() }  // training goes on, writing the arrays the snapshot shares
        try writer.flush()
        let reference = try TinyTraining.trainer(TinyTraining.settings(steps: 10))
        for _ in 0..<3 { try reference.trainStep() }
        let written = try Checkpoint.read(Checkpoint.path(in: dir, step: 3))
        #expect(written == reference.checkpoint())
        #expect(written != t.checkpoint(), "the trainer moved on")

        let blocked = dir + "/file"
        FileManager.default.createFile(atPath: blocked, contents: Data())
        try writer.write(t.checkpoint(), to: blocked, keep: 1)  // a folder where a file is: fails in the background
        #expect(throws: TrainingError.self) { try writer.flush() }
    }

    @Test("elastic policy: killed ranks restart at full size with a replacement, else after the timeout with those left; errors stop")
    func policy() throws {
        let policy = try ElasticPolicy(ranks: 4, rejoinTimeout: 30, maxRestarts: 2)
        let killed = ElasticPolicy.Failure.killed(rank: 1, signal: 9)
        #expect(policy.decide(killed, available: 4, waited: 0, restarts: 0) == .restart(ranks: 4))
        #expect(policy.decide(killed, available: 3, waited: 10, restarts: 0) == .wait)
        #expect(policy.decide(killed, available: 3, waited: 30, restarts: 1) == .restart(ranks: 3))
        #expect(policy.decide(killed, available: 0, waited: 31, restarts: 0) == .giveUp(reason: "no ranks are left to restart with"))
        guard case .giveUp = policy.decide(killed, available: 4, waited: 0, restarts: 2) else {
            Issue.record("--max-restarts bounds the restarts")
            return
        }
        guard case .giveUp = policy.decide(.exited(status: 1), available: 4, waited: 0, restarts: 0) else {
            Issue.record("an error status is not restarted")
            return
        }
        let report = """
            Primary job  terminated normally, but 1 process returned
            --------------------------------------------------------------------------
            mpirun noticed that process rank 3 with PID 0 on node vm exited on signal 9 (Killed).
            """
        #expect(ElasticPolicy.Failure.parse(report, status: 137) == .killed(rank: 3, signal: 9))
        #expect(ElasticPolicy.Failure.parse("Error: --steps must be ≥ 1", status: 1) == .exited(status: 1))
        #expect(throws: TrainingError.self) { try ElasticPolicy(ranks: 0, rejoinTimeout: 1, maxRestarts: 1) }
        #expect(throws: TrainingError.self) { try ElasticPolicy(ranks: 2, rejoinTimeout: -1, maxRestarts: 1) }
    }
}
