import ArgumentParser
import ColonyModels
import ColonyRegistry
import ColonyTraining
import Foundation

extension Train {
    mutating func validate() throws {
        // A registry reference trains on its checked weights.
        if let given = base, given.hasPrefix(ModelReference.scheme) { base = try RegistryOptions.resolve(given).path }
        guard loraRank >= 0 else { throw ValidationError("--lora-rank must be ≥ 0, got \(loraRank)") }
        guard TrainingConfiguration.OptimizerKind(rawValue: optimizer) != nil else {
            throw ValidationError("--optimizer must be adamw or sgd, got '\(optimizer)'")
        }
        guard TrainableLlama.exportTypes[exportType] != nil else {
            throw ValidationError(
                "--export-type must be one of \(TrainableLlama.exportTypes.keys.sorted().joined(separator: ", ")), got '\(exportType)'")
        }
        guard (0...3).contains(zero) else { throw ValidationError("--zero must be 0, 1, 2 or 3, got \(zero)") }
        if loraRank > 0 { try lora?.validate() }
        if let initAdapter {
            guard loraRank > 0 else { throw ValidationError("--init-adapter continues a LoRA: it needs --lora-rank > 0") }
            guard collective == "none" else { throw ValidationError("--init-adapter trains on one process: drop --collective mpi") }
            guard FileManager.default.fileExists(atPath: initAdapter) else {
                throw ValidationError("--init-adapter: no file at '\(initAdapter)'")
            }
        }
        if let stopAfter, stopAfter < 1 { throw ValidationError("--stop-after must be ≥ 1, got \(stopAfter)") }
        guard ["none", "mpi"].contains(collective) else { throw ValidationError("--collective must be none or mpi, got '\(collective)'") }
        guard pipelineStages >= 1 else { throw ValidationError("--pipeline-stages must be ≥ 1, got \(pipelineStages)") }
        guard tensorParallel >= 1 else { throw ValidationError("--tensor-parallel must be ≥ 1, got \(tensorParallel)") }
        guard collective == "mpi" || (pipelineStages == 1 && tensorParallel == 1) else {
            throw ValidationError(
                "--pipeline-stages and --tensor-parallel spread the model over ranks: run under mpirun with --collective mpi and a multiple of \(pipelineStages * tensorParallel) ranks"
            )
        }
        guard ["dp", "ps", "hybrid"].contains(sync) else { throw ValidationError("--sync must be dp, ps or hybrid, got '\(sync)'") }
        if sync != "dp" {
            guard collective == "mpi" else {
                throw ValidationError(
                    "--sync \(sync) needs ranks: run under mpirun with --collective mpi (workers and --parameter-servers)")
            }
            guard zero == 0 && pipelineStages == 1 && tensorParallel == 1 else {
                throw ValidationError(
                    "--sync \(sync) trains each worker's whole model: it does not combine with --zero, --pipeline-stages or --tensor-parallel"
                )
            }
            guard !resume && checkpointEvery == 0 && stopAfter == nil else {
                throw ValidationError(
                    "--sync \(sync) keeps no checkpoints (the state lives on the servers): drop --resume, --checkpoint-every and --stop-after"
                )
            }
        }
        if let checkpointMinutes, !(checkpointMinutes > 0) {
            throw ValidationError("--checkpoint-minutes must be > 0, got \(checkpointMinutes)")
        }
        if elastic {
            guard sync == "dp" && pipelineStages == 1 && tensorParallel == 1 else {
                throw ValidationError(
                    "--elastic restarts data-parallel ranks (with any --zero); it does not combine with --sync ps/hybrid, --pipeline-stages or --tensor-parallel"
                )
            }
            _ = try ElasticPolicy(ranks: ranks, rejoinTimeout: rejoinTimeout, maxRestarts: maxRestarts)
        }
        if let deltaTopK, !(deltaTopK > 0 && deltaTopK <= 1) {
            throw ValidationError("--delta-top-k must be a fraction in (0, 1], got \(deltaTopK)")
        }
        if let threads, !(1...256).contains(threads) { throw ValidationError("--threads must be between 1 and 256, got \(threads)") }
        try settings.validate()
    }

    var lora: LoRAConfiguration? {
        loraRank > 0
            ? LoRAConfiguration(
                rank: loraRank, alpha: loraAlpha, targets: loraTargets.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            ) : nil
    }

    var settings: TrainingConfiguration {
        var c = TrainingConfiguration()
        c.steps = steps
        c.batchSize = batch
        c.sequenceLength = seqLen
        c.microBatches = microBatches
        c.optimizer = TrainingConfiguration.OptimizerKind(rawValue: optimizer) ?? .adamw
        c.learningRate = lr
        c.warmupSteps = warmup
        c.weightDecay = weightDecay
        c.clipNorm = clip
        c.evalEvery = evalEvery
        c.evalBatches = evalBatches
        c.checkpointEvery = checkpointEvery
        c.keepCheckpoints = keep
        c.seed = seed
        return c
    }
}
