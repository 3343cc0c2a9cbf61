import ColonyModels
import Foundation
import Testing

@testable import ColonyTraining

@Suite("Training run")
struct TrainingRunTests {
    static func folder() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("colony-run-\(UUID().uuidString)").path
    }

    /// The lines of a run's log.jsonl, parsed.
    static func log(_ run: TrainingRun) throws -> [[String: Any]] {
        try String(contentsOfFile: run.logPath, encoding: .utf8).split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    static func stepLosses(_ log: [[String: Any]]) -> [Double] { log.compactMap { $0["loss"] as? Double } }

    @Test("evaluates at the start, every evalEvery steps and at the end; checkpoints every checkpointEvery steps; exports the model")
    func cadence() throws {
        let dir = Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var settings = TinyTraining.settings(steps: 6)
        settings.evalEvery = 2
        settings.checkpointEvery = 4
        settings.keepCheckpoints = 5
        let run = TrainingRun(trainer: try TinyTraining.trainer(settings), output: dir, exportType: .f32)
        var evaluated: [Int] = []
        var stepped: [Int] = []
        var totals: Set<Int> = []
        var done: [Int] = []
        let outcome = try run.run { event in
            switch event {
            case .evaluated(let step, let loss, let perplexity):
                evaluated.append(step)
                #expect(abs(perplexity - expf(loss)) < 1e-3 * perplexity)
            case .stepped(let report, let progress):
                stepped.append(report.step)
                totals.insert(progress.totalSteps)
                #expect(progress.tokensPerSecond > 0 && progress.etaSeconds >= 0)
            case .stepsDone(let step): done.append(step)
            case .resumed: Issue.record("a fresh run does not resume")
            }
        }
        #expect(outcome == .finished(model: run.modelPath))
        #expect(evaluated == [0, 2, 4, 6])
        #expect(stepped == [1, 2, 3, 4, 5, 6])
        #expect(totals == [6])
        #expect(done == [6])
        #expect(
            Checkpoint.list(in: run.checkpointDirectory).map { ($0 as NSString).lastPathComponent }
                == ["step-00000004.ckpt", "step-00000006.ckpt"])
        let log = try Self.log(run)
        #expect(log.count == 10, "6 steps and 4 evaluations")
        #expect(log.compactMap { $0["eval_loss"] == nil ? nil : $0["step"] as? Int } == [0, 2, 4, 6])
        #expect(Self.stepLosses(log).map(Float.init) == run.trainer.losses)
        #expect(try GGUFFile(contentsOf: run.modelPath).tensors.count > 0)
    }

    @Test("stop-after leaves a checkpoint; a resumed run (other initial weights) continues the same loss curve")
    func stopThenResume() throws {
        let straightDir = Self.folder()
        let splitDir = Self.folder()
        defer { for d in [straightDir, splitDir] { try? FileManager.default.removeItem(atPath: d) } }
        let straight = TrainingRun(trainer: try TinyTraining.trainer(TinyTraining.settings(steps: 6)), output: straightDir)
        #expect(try straight.run() == .finished(model: straight.modelPath))

        let first = TrainingRun(trainer: try TinyTraining.trainer(TinyTraining.settings(steps: 6)), output: splitDir, stopAfter: 2)
        #expect(try first.run() == .stopped(step: 2, of: 6))
        #expect(Checkpoint.list(in: first.checkpointDirectory).map { ($0 as NSString).lastPathComponent } == ["step-00000002.ckpt"])
        #expect(!FileManager.default.fileExists(atPath: first.modelPath))

        let second = TrainingRun(
            trainer: try TinyTraining.trainer(TinyTraining.settings(steps: 6), seed: 99), output: splitDir, resume: true)
        var resumedAt: Int?
        var evaluatedAt: [Int] = []
        #expect(
            try second.run { event in
                if case .resumed(_, let step) = event { resumedAt = step }
                if case .evaluated(let step, _, _) = event { evaluatedAt.append(step) }
            } == .finished(model: second.modelPath))
        #expect(resumedAt == 2)
        #expect(evaluatedAt == [6], "no start-of-run evaluation when resuming")
        #expect(second.trainer.losses == straight.trainer.losses)
        #expect(TinyTraining.values(second.trainer) == TinyTraining.values(straight.trainer))
        #expect(Self.stepLosses(try Self.log(second)) == Self.stepLosses(try Self.log(straight)), "the log is appended, not restarted")
    }

    @Test("resuming with no checkpoint names the folder")
    func resumeWithoutCheckpoint() throws {
        let dir = Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let run = TrainingRun(trainer: try TinyTraining.trainer(TinyTraining.settings()), output: dir, resume: true)
        #expect(throws: TrainingError.noCheckpoint(directory: (dir as NSString).appendingPathComponent("checkpoints"))) { try run.run() }
        #expect(TrainingError.noCheckpoint(directory: "x").description == "--resume: no checkpoint in x; run without --resume to start")
    }

    @Test("training products with frozen weights: int16 has a runtime, float32 none, int8 is refused")
    func precision() throws {
        #expect(try ActivationPrecision.int16.packedRuntime(threads: 1) != nil)
        #expect(try ActivationPrecision.float32.packedRuntime(threads: 1) == nil)
        #expect(throws: TrainingError.self) { try ActivationPrecision.int8.packedRuntime(threads: 1) }
        #expect(ActivationPrecision.frozenWeightCases == [.int16, .float32])
    }

    @Test("meanLoss scores every example once, weighted by tokens, and reports progress up to the example count")
    func meanLoss() throws {
        let model = TrainableLlama(config: TinyTraining.config, seed: 7)
        let examples = TinyTraining.examples(5)
        var loader = BatchLoader(examples: examples, batchSize: 2, length: 16, seed: 0)
        var sum: Double = 0
        var count = 0
        while loader.position.epoch == 0 {
            let part = try model.summedLoss(loader.next())
            sum += part.sum
            count += part.count
        }
        var progress: [Int] = []
        let result = try model.meanLoss(over: examples, batchSize: 2, length: 16) { progress.append($0) }
        #expect(result.tokens == count && count > 0)
        #expect(result.loss == sum / Double(count))
        #expect(progress.last == 5 && progress == progress.sorted())
    }
}
