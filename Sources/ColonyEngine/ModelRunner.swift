import ColonyModels

/// Executes what a `Scheduler` planned: runs each step's batch through a model and
/// returns the logits of the chunks that sample, in chunk order. The scheduler never sees
/// the model; a runner never decides anything.
public protocol ModelRunner {
    /// The model's geometry (vocabulary, context).
    var config: LlamaConfiguration { get }
    /// One logits row per chunk with `samples`, in chunk order.
    func execute(_ output: SchedulerOutput) throws(ModelError) -> [[Float]]
}

/// A `LlamaModel` over a paged `KVCache` whose blocks a `KVBlockPool` hands out.
public final class LlamaRunner: ModelRunner {
    public let model: LlamaModel
    public let cache: KVCache

    public init(model: LlamaModel, blockCount: Int, blockSize: Int) {
        self.model = model
        cache = KVCache(config: model.config, blockCount: blockCount, blockSize: blockSize, type: model.kvType)
    }

    public var config: LlamaConfiguration { model.config }

    public func execute(_ output: SchedulerOutput) throws(ModelError) -> [[Float]] {
        var tables: [Int: BlockTable] = [:]
        var adapters: [Int: LoRAWeights] = [:]
        for c in output.chunks {
            tables[c.sequence] = c.table
            adapters[c.sequence] = c.adapter
        }
        return try model.forward(output.batch, cache: cache, tables: &tables, adapters: adapters)
    }
}
