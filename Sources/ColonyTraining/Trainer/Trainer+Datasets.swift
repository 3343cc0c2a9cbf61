import ColonyModels

extension Trainer {
    /// A trainer for the model in `gguf` over chat datasets: LoRA adapters when `lora` is
    /// set (the frozen base computed at `precision`), else every weight. Batches follow
    /// `config` (size, length, seed); evaluation batches use a seed of their own, so the
    /// training order does not depend on whether there is held-out data.
    public convenience init(
        gguf: GGUFFile, lora: LoRAConfiguration?, precision: ActivationPrecision, threads: Int?, train: ChatDataset, eval: ChatDataset?,
        config: TrainingConfiguration, parallel: ParallelConfiguration? = nil, asynchronous: AsynchronousConfiguration? = nil
    ) throws {
        let runtime = lora == nil ? nil : try precision.packedRuntime(threads: threads)
        let model = try TrainableLlama(gguf: gguf, lora: lora, packedRuntime: runtime, seed: config.seed)
        let loader = BatchLoader(
            examples: train.examples, batchSize: config.microBatchSize, length: config.sequenceLength, seed: config.seed)
        let evalLoader = eval.map {
            BatchLoader(examples: $0.examples, batchSize: config.batchSize, length: config.sequenceLength, seed: config.seed &+ 1)
        }
        try self.init(model: model, config: config, loader: loader, evalLoader: evalLoader, parallel: parallel, asynchronous: asynchronous)
    }
}
