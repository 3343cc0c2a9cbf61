import ColonyModels
import ColonyTensor
import Foundation

/// Prefill and decode speed of a model against this machine's memory-bandwidth roofline.
///
/// Prefill runs the whole prompt as one batch; decode then generates greedily one token at a
/// time. Each figure is the median of `runs` runs. The roofline is the read bandwidth of
/// memory measured in the same run divided by the bytes of weights one decode step reads.
public struct ModelBench: Sendable {
    public var promptTokens: Int
    public var genTokens: Int
    public var runs: Int

    public init(promptTokens: Int = 128, genTokens: Int = 128, runs: Int = 5) {
        self.promptTokens = promptTokens
        self.genTokens = genTokens
        self.runs = runs
    }

    /// Measures `model` (whose file is named `name` in the report); `onRun` hears each run's number (1-based) as it starts.
    ///
    /// The caller checks that `promptTokens + genTokens` fit the model's context.
    public func run(_ model: LlamaModel, name: String, onRun: (Int) -> Void = { _ in }) throws -> ModelBenchReport {
        let c = model.config
        // A fixed spread of ordinary token ids: the same prompt every run and every build.
        let prompt = (0..<promptTokens).map { 100 + ($0 * 7919) % (c.vocabularySize - 100) }

        let warmCache = KVCache(config: c, positions: 16, type: model.kvType)
        var warmTable = warmCache.wholeTable()
        _ = try model.forward(
            (0..<16).map { BatchToken(token: prompt[$0 % prompt.count], position: $0) },
            cache: warmCache, table: &warmTable)  // warm-up: page in the weights
        var prefill: [Double] = []
        var decode: [Double] = []
        for r in 1...runs {
            onRun(r)
            let cache = KVCache(config: c, positions: promptTokens + genTokens, type: model.kvType)
            var table = cache.wholeTable()
            let batch = prompt.enumerated().map { BatchToken(token: $1, position: $0, wantsLogits: $0 == prompt.count - 1) }
            let t0 = DispatchTime.now().uptimeNanoseconds
            var logits = try model.forward(batch, cache: cache, table: &table)[0]
            let t1 = DispatchTime.now().uptimeNanoseconds
            for g in 0..<genTokens {
                let next = Sampler.argmax(logits)
                logits = try model.forward(
                    [BatchToken(token: next, position: promptTokens + g, wantsLogits: true)], cache: cache, table: &table)[0]
            }
            let t2 = DispatchTime.now().uptimeNanoseconds
            prefill.append(Double(promptTokens) / (Double(t1 - t0) / 1e9))
            decode.append(Double(genTokens) / (Double(t2 - t1) / 1e9))
        }
        let peakRSS = ResourceUsage.peakResidentBytes()  // before the bandwidth probe allocates its buffer
        // The machine is shared: the roofline takes the best of many passes, so the ratio
        // is never flattered by a slow moment of the probe.
        let bandwidth = MemoryBandwidth.measureRead(pool: model.pool, repeats: 20)
        let roofline = bandwidth / Double(model.weightBytesPerToken)
        let decodeMedian = Statistics.median(decode)
        return ModelBenchReport(
            model: name,
            threads: model.pool.threadCount,
            precision: model.precision.rawValue,
            promptTokens: promptTokens,
            genTokens: genTokens,
            runs: runs,
            prefillTokensPerSecond: Statistics.median(prefill),
            decodeTokensPerSecond: decodeMedian,
            memoryReadGBPerSecond: bandwidth / 1e9,
            weightBytesPerToken: model.weightBytesPerToken,
            rooflineDecodeTokensPerSecond: roofline,
            decodeShareOfRoofline: decodeMedian / roofline,
            peakRSSBytes: peakRSS,
            modelFileBytes: model.file.fileSize,
            kvType: model.kvType.rawValue,
            kvCacheBytes: 2 * c.blockCount * c.kvDimension * model.kvType.bytesPerElement * (promptTokens + genTokens)
        )
    }
}
