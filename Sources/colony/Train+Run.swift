import ArgumentParser
import ColonyBench
import ColonyCollectives
import ColonyModels
import ColonyTraining
import Foundation

extension Train {
    func run() throws {
        bootstrapLogging(verbose: false)
        if let threads { setBLASThreads(threads) }
        let parallel: ParallelConfiguration? =
            collective == "mpi"
            ? try ParallelConfiguration(
                collective: try MPICollective.initialize(), zeroStage: zero, pipelineStages: pipelineStages, tensorParallel: tensorParallel)
            : nil
        defer { if parallel != nil { try? MPICollective.finalize() } }
        let lead = (parallel?.collective.rank ?? 0) == 0
        func say(_ text: String) { if lead { writeErr(text) } }

        let gguf = try ModelOptions.open(base, option: "--base")
        let tokenizer = try Tokenizer(gguf: gguf)
        let template = try ChatTemplate(gguf: gguf)
        let trainData = try ChatDataset(path: data, tokenizer: tokenizer, template: template, maxLength: seqLen, minReward: minReward)
        let evalData = try eval.map { try ChatDataset(path: $0, tokenizer: tokenizer, template: template, maxLength: seqLen) }
        say("data: \(trainData.summary(length: seqLen))" + (evalData.map { "; eval: \($0.examples.count) conversations" } ?? "") + "\n")

        let trainer = try Trainer(
            gguf: gguf, lora: lora, precision: precision, threads: threads, train: trainData, eval: evalData, config: settings,
            parallel: parallel)
        let model = trainer.model
        say(
            "model: \(model.config.blockCount) layers, \(lora.map { "LoRA rank \($0.rank) on \($0.targets.joined(separator: ","))" } ?? "full fine-tune"), "
                + "\(trainer.wholeParameterCount) trainable parameters"
                + (trainer.parameterCount < trainer.wholeParameterCount ? " (\(trainer.parameterCount) on rank 0's part)" : "")
                + "\(parallel.map { ", \($0.collective.size) ranks (\($0.layout.replicas) replicas × \($0.layout.stages) stages × \($0.layout.tensorParallel) tensor), ZeRO \($0.zeroStage)" } ?? "")\n"
        )

        let run = TrainingRun(
            trainer: trainer, output: out, resume: resume, stopAfter: stopAfter,
            exportType: TrainableLlama.exportTypes[exportType]!)
        let bar = ProgressBar(width: 24)
        let outcome: TrainingRun.Outcome
        do {
            outcome = try run.run { event in
                switch event {
                case .resumed(let checkpoint, let step):
                    say("resumed from \(checkpoint) at step \(step)\n")
                case .evaluated(let step, let loss, let perplexity):
                    say(ProgressBar.status(String(format: "eval at step %d: loss %.4f, perplexity %.2f\n", step, loss, perplexity)))
                case .stepped(let report, let progress):
                    say(
                        bar.line(
                            report.step, of: progress.totalSteps,
                            String(
                                format: "step %d/%d  loss %.4f  lr %.2e  %.0f tok/s  ETA %@", report.step, progress.totalSteps, report.loss,
                                report.learningRate, progress.tokensPerSecond, ProgressBar.duration(progress.etaSeconds))))
                case .stepsDone:
                    say("\n")
                }
            }
        } catch TrainingError.noCheckpoint(let directory) {
            throw ValidationError(TrainingError.noCheckpoint(directory: directory).description)
        }
        switch outcome {
        case .stopped(let step, let total):
            writeOut("stopped at step \(step) of \(total); continue with --resume\n")
        case .finished(let modelPath?):
            writeOut("wrote \(modelPath) (\(exportType)); checkpoints in \(run.checkpointDirectory); log in \(run.logPath)\n")
        case .finished(nil):
            break
        }
    }
}
