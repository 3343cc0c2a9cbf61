import Foundation

/// What `colony bench model` reports: a table, or one JSON object with today's snake_case keys.
public struct ModelBenchReport: Codable, Sendable {
    public var model: String
    public var threads: Int
    public var precision: String
    public var promptTokens: Int
    public var genTokens: Int
    public var runs: Int
    public var prefillTokensPerSecond: Double
    public var decodeTokensPerSecond: Double
    public var memoryReadGBPerSecond: Double
    public var weightBytesPerToken: Int
    public var rooflineDecodeTokensPerSecond: Double
    public var decodeShareOfRoofline: Double
    public var peakRSSBytes: Int
    public var modelFileBytes: Int
    /// The KV cache's element type (f16 or f32).
    public var kvType: String
    public var kvCacheBytes: Int

    enum CodingKeys: String, CodingKey {
        case model, threads, precision, runs
        case promptTokens = "prompt_tokens"
        case genTokens = "gen_tokens"
        case prefillTokensPerSecond = "prefill_tokens_per_second"
        case decodeTokensPerSecond = "decode_tokens_per_second"
        case memoryReadGBPerSecond = "memory_read_gb_per_second"
        case weightBytesPerToken = "weight_bytes_per_token"
        case rooflineDecodeTokensPerSecond = "roofline_decode_tokens_per_second"
        case decodeShareOfRoofline = "decode_share_of_roofline"
        case peakRSSBytes = "peak_rss_bytes"
        case modelFileBytes = "model_file_bytes"
        case kvType = "kv_type"
        case kvCacheBytes = "kv_cache_bytes"
    }

    /// The human-readable form.
    public var table: String {
        func f(_ x: Double) -> String { String(format: "%.1f", x) }
        let mb = { (b: Int) in String(format: "%.1f MB", Double(b) / 1e6) }
        return """
            model           \(model) (\(threads) thread\(threads == 1 ? "" : "s"), \(precision) activations)
            prefill         \(f(prefillTokensPerSecond)) tokens/s  (\(promptTokens)-token prompt, median of \(runs))
            decode          \(f(decodeTokensPerSecond)) tokens/s  (\(genTokens) tokens, median of \(runs))
            memory read     \(f(memoryReadGBPerSecond)) GB/s; weights read per token \(mb(weightBytesPerToken))
            roofline        \(f(rooflineDecodeTokensPerSecond)) tokens/s; decode reaches \(String(format: "%.0f", decodeShareOfRoofline * 100))% of it
            peak RSS        \(mb(peakRSSBytes)) (model file \(mb(modelFileBytes)) + \(kvType) KV cache \(mb(kvCacheBytes)))

            """
    }
}
