import ArgumentParser
import ColonyModels
import ColonyTensor
import Foundation

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmarks: the model (default), the agent runtime, training, all-reduce.",
        subcommands: [BenchModel.self, BenchAgents.self, BenchTrain.self, BenchAllReduce.self],
        defaultSubcommand: BenchModel.self)
}

struct BenchModel: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Measure prefill and decode speed against this machine's memory-bandwidth roofline.",
        discussion: """
            Prefill runs the whole prompt as one batch; decode then generates greedily one token \
            at a time. Each figure is the median of --runs runs. The roofline is the read bandwidth \
            of memory measured in the same run (STREAM-style sum over 512 MiB with the same threads) \
            divided by the bytes of weights one decode step reads.
            """
    )

    @OptionGroup var modelOptions: ModelOptions

    @Option(name: .long, help: "Prompt length for the prefill measurement.")
    var promptTokens = 128

    @Option(name: .long, help: "Tokens to decode per run.")
    var genTokens = 128

    @Option(name: .long, help: "Runs per measurement (the median is reported).")
    var runs = 5

    @Flag(name: .long, help: "Print one JSON object instead of a table.")
    var json = false

    func validate() throws {
        guard promptTokens >= 1 else { throw ValidationError("--prompt-tokens must be ≥ 1, got \(promptTokens)") }
        guard genTokens >= 1 else { throw ValidationError("--gen-tokens must be ≥ 1, got \(genTokens)") }
        guard runs >= 1 && runs <= 100 else { throw ValidationError("--runs must be between 1 and 100, got \(runs)") }
    }

    func run() throws {
        bootstrapLogging(verbose: modelOptions.verbose)
        let (model, _) = try modelOptions.loadModel()
        let c = model.config
        guard promptTokens + genTokens <= c.contextLength else {
            throw ValidationError("--prompt-tokens + --gen-tokens (\(promptTokens + genTokens)) exceed the model's context of \(c.contextLength)")
        }
        // A fixed spread of ordinary token ids: the same prompt every run and every build.
        let prompt = (0..<promptTokens).map { 100 + ($0 * 7919) % (c.vocabularySize - 100) }

        let warmCache = KVCache(config: c, positions: 16)
        var warmTable = warmCache.wholeTable()
        _ = try model.forward((0..<16).map { BatchToken(token: prompt[$0 % prompt.count], position: $0) },
                              cache: warmCache, table: &warmTable) // warm-up: page in the weights
        var prefill: [Double] = [], decode: [Double] = []
        for r in 1...runs {
            if !json { writeErr("run \(r)/\(runs)\r") }
            let cache = KVCache(config: c, positions: promptTokens + genTokens)
            var table = cache.wholeTable()
            let batch = prompt.enumerated().map { BatchToken(token: $1, position: $0, wantsLogits: $0 == prompt.count - 1) }
            let t0 = DispatchTime.now().uptimeNanoseconds
            var logits = try model.forward(batch, cache: cache, table: &table)[0]
            let t1 = DispatchTime.now().uptimeNanoseconds
            for g in 0..<genTokens {
                let next = Sampler.argmax(logits)
                logits = try model.forward([BatchToken(token: next, position: promptTokens + g, wantsLogits: true)], cache: cache, table: &table)[0]
            }
            let t2 = DispatchTime.now().uptimeNanoseconds
            prefill.append(Double(promptTokens) / (Double(t1 - t0) / 1e9))
            decode.append(Double(genTokens) / (Double(t2 - t1) / 1e9))
        }
        let peakRSS = Self.peakResidentBytes() // before the bandwidth probe allocates its buffer
        // The machine is shared: the roofline takes the best of many passes, so the ratio
        // is never flattered by a slow moment of the probe.
        let bandwidth = MemoryBandwidth.measureRead(pool: model.pool, repeats: 20)
        let roofline = bandwidth / Double(model.weightBytesPerToken)
        let report = Report(
            model: (modelOptions.modelPath as NSString).lastPathComponent,
            threads: model.pool.threadCount,
            precision: model.precision.rawValue,
            prompt_tokens: promptTokens,
            gen_tokens: genTokens,
            runs: runs,
            prefill_tokens_per_second: Self.median(prefill),
            decode_tokens_per_second: Self.median(decode),
            memory_read_gb_per_second: bandwidth / 1e9,
            weight_bytes_per_token: model.weightBytesPerToken,
            roofline_decode_tokens_per_second: roofline,
            decode_share_of_roofline: Self.median(decode) / roofline,
            peak_rss_bytes: peakRSS,
            model_file_bytes: model.file.fileSize,
            kv_cache_bytes: 2 * c.blockCount * c.kvDimension * 4 * (promptTokens + genTokens)
        )
        if json {
            try writeJSON(report)
        } else {
            writeOut(report.table)
        }
    }

    static func median(_ xs: [Double]) -> Double {
        let s = xs.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    static func peakResidentBytes() -> Int {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return usage.ru_maxrss * 1024
    }

    struct Report: Encodable {
        let model: String
        let threads: Int
        let precision: String
        let prompt_tokens: Int
        let gen_tokens: Int
        let runs: Int
        let prefill_tokens_per_second: Double
        let decode_tokens_per_second: Double
        let memory_read_gb_per_second: Double
        let weight_bytes_per_token: Int
        let roofline_decode_tokens_per_second: Double
        let decode_share_of_roofline: Double
        let peak_rss_bytes: Int
        let model_file_bytes: Int
        let kv_cache_bytes: Int

        var table: String {
            func f(_ x: Double) -> String { String(format: "%.1f", x) }
            let mb = { (b: Int) in String(format: "%.1f MB", Double(b) / 1e6) }
            return """
                model           \(model) (\(threads) thread\(threads == 1 ? "" : "s"), \(precision) activations)
                prefill         \(f(prefill_tokens_per_second)) tokens/s  (\(prompt_tokens)-token prompt, median of \(runs))
                decode          \(f(decode_tokens_per_second)) tokens/s  (\(gen_tokens) tokens, median of \(runs))
                memory read     \(f(memory_read_gb_per_second)) GB/s; weights read per token \(mb(weight_bytes_per_token))
                roofline        \(f(roofline_decode_tokens_per_second)) tokens/s; decode reaches \(String(format: "%.0f", decode_share_of_roofline * 100))% of it
                peak RSS        \(mb(peak_rss_bytes)) (model file \(mb(model_file_bytes)) + KV cache \(mb(kv_cache_bytes)))

                """
        }
    }
}
