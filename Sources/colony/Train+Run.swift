import ArgumentParser
import ColonyBench
import ColonyCollectives
import ColonyModels
import ColonyTraining
import Foundation

extension Train {
    func run() throws {
        bootstrapLogging(verbose: false)
        if elastic && !elasticMember { return try superviseElastic() }
        if let threads { setBLASThreads(threads) }
        let world: MPICollective? = collective == "mpi" ? try MPICollective.initialize() : nil
        defer { if world != nil { try? MPICollective.finalize() } }
        let mode = AsynchronousConfiguration.Mode(rawValue: sync)
        let parallel: ParallelConfiguration? = try world.flatMap { world in
            mode == nil
                ? try ParallelConfiguration(
                    collective: world, zeroStage: zero, pipelineStages: pipelineStages, tensorParallel: tensorParallel,
                    elastic: elasticMember, overlap: overlap, gatherByLayer: gatherByLayer)
                : nil
        }
        let asynchronous: AsynchronousConfiguration? = try mode.flatMap { mode in
            try world.map { world in
                try AsynchronousConfiguration(
                    mode: mode, world: world, servers: parameterServers, rule: StalenessRule(maxStaleness: maxStaleness),
                    codec: DeltaCodec(topK: deltaTopK), deltaEvery: deltaEvery, syncEvery: syncEvery)
            }
        }
        let lead = (world?.rank ?? 0) == 0
        func say(_ text: String) { if lead { writeErr(text) } }

        let gguf = try ModelOptions.open(base, option: "--base")
        let tokenizer = try Tokenizer(gguf: gguf)
        let template = try ChatTemplate(gguf: gguf)
        let trainData = try ChatDataset(path: data, tokenizer: tokenizer, template: template, maxLength: seqLen, minReward: minReward)
        let evalData = try eval.map { try ChatDataset(path: $0, tokenizer: tokenizer, template: template, maxLength: seqLen) }
        say("data: \(trainData.summary(length: seqLen))" + (evalData.map { "; eval: \($0.examples.count) conversations" } ?? "") + "\n")

        let trainer = try Trainer(
            gguf: gguf, lora: lora, precision: precision, threads: threads, train: trainData, eval: evalData, config: settings,
            parallel: parallel, asynchronous: asynchronous)
        if let asynchronous, asynchronous.isServer {
            let report = try ParameterServer(trainer: trainer, configuration: asynchronous).serve()
            writeErr(
                "parameter server \(asynchronous.world.rank - asynchronous.workers): \(report.applied) updates applied, "
                    + "\(report.rejectedStale) rejected as stale, \(report.rejectedConflict) as conflicts; version \(report.version)\n")
            return
        }
        let model = trainer.model
        if let initAdapter {
            try model.loadAdapter(from: initAdapter)  // a checkpoint, when resuming, replaces it
            say("LoRA starts from \(initAdapter)\n")
        }
        say(
            "model: \(model.config.blockCount) layers, \(lora.map { "LoRA rank \($0.rank) on \($0.targets.joined(separator: ","))" } ?? "full fine-tune"), "
                + "\(trainer.wholeParameterCount) trainable parameters"
                + (trainer.parameterCount < trainer.wholeParameterCount ? " (\(trainer.parameterCount) on rank 0's part)" : "")
                + "\(parallel.map { ", \($0.collective.size) ranks (\($0.layout.replicas) replicas × \($0.layout.stages) stages × \($0.layout.tensorParallel) tensor), ZeRO \($0.zeroStage)" } ?? "")"
                + "\(asynchronous.map { ", \($0.workers) workers and \($0.servers) parameter servers (--sync \($0.mode.rawValue))" } ?? "")\n"
        )

        let run = TrainingRun(
            trainer: trainer, output: out, resume: resume, stopAfter: stopAfter,
            exportType: TrainableLlama.exportTypes[exportType]!,
            // An elastic job always has a checkpoint to come back to: every 30 minutes unless told.
            checkpointMinutes: checkpointMinutes ?? (elasticMember && checkpointEvery == 0 ? 30 : nil))
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
        if let world, parallel != nil {
            // Every rank: what it held, against the theory of its layout.
            let f = trainer.footprint
            func mib(_ bytes: Int) -> String { String(format: "%.1f", Double(bytes) / 1_048_576) }
            writeErr(
                "rank \(world.rank): peak resident \(mib(ResourceUsage.peakResidentBytes())) MiB; between steps parameters \(mib(f.parameterBytes)), "
                    + "gradients \(mib(f.gradientBytes)), optimizer state \(mib(f.optimizerBytes)) MiB\n")
        }
        switch outcome {
        case .stopped(let step, let total):
            writeOut("stopped at step \(step) of \(total); continue with --resume\n")
        case .finished(let modelPath?):
            if let totals = trainer.exchangeTotals {
                writeOut("parameter servers: \(totals.applied) updates applied, \(totals.rejected) rejected\n")
                writeOut("wrote \(modelPath) (\(exportType)); log in \(run.logPath)\n")
                break
            }
            writeOut("wrote \(modelPath) (\(exportType)); checkpoints in \(run.checkpointDirectory); log in \(run.logPath)\n")
        case .finished(nil):
            break
        }
    }
}
