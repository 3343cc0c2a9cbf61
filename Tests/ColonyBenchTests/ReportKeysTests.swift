import Foundation
import Testing

@testable import ColonyBench

/// The `--json` keys of the bench reports are an interface (scripts read them): the Swift
/// properties are camelCase, the keys stay as they were.
@Suite("Bench report JSON keys")
struct ReportKeysTests {
    static func keys<T: Encodable>(_ value: T) throws -> [String] {
        let object = try JSONSerialization.jsonObject(with: try JSONEncoder().encode(value)) as? [String: Any]
        return (object ?? [:]).keys.sorted()
    }

    @Test("bench model")
    func model() throws {
        let report = ModelBenchReport(
            model: "m.gguf", threads: 2, precision: "int16", promptTokens: 128, genTokens: 64, runs: 5, prefillTokensPerSecond: 1,
            decodeTokensPerSecond: 2, memoryReadGBPerSecond: 3, weightBytesPerToken: 4, rooflineDecodeTokensPerSecond: 5,
            decodeShareOfRoofline: 0.4, peakRSSBytes: 6, modelFileBytes: 7, kvType: "f16", kvCacheBytes: 8)
        #expect(
            try Self.keys(report) == [
                "decode_share_of_roofline", "decode_tokens_per_second", "gen_tokens", "kv_cache_bytes", "kv_type",
                "memory_read_gb_per_second",
                "model", "model_file_bytes", "peak_rss_bytes", "precision", "prefill_tokens_per_second", "prompt_tokens",
                "roofline_decode_tokens_per_second",
                "runs", "threads", "weight_bytes_per_token",
            ])
        #expect(report.table.contains("decode          2.0 tokens/s  (64 tokens, median of 5)"))
    }

    @Test("bench agents")
    func agents() throws {
        let report = AgentsBenchReport(
            agents: 4, tasks: 8, agentSteps: 16, agentSeconds: 2, agentStepsPerSecond: 8, agentTokensPerSecond: 100, engineRequests: 16,
            engineSeconds: 1, engineRequestsPerSecond: 16, agentShareOfEngine: 0.5, sameRequestsAsRecorded: true, runtimeMsPerStep: 0.25,
            success: 7, graded: 8)
        #expect(
            try Self.keys(report) == [
                "agent_seconds", "agent_share_of_engine", "agent_steps", "agent_steps_per_second", "agent_tokens_per_second", "agents",
                "engine_requests", "engine_requests_per_second", "engine_seconds", "graded", "runtime_ms_per_step",
                "same_requests_as_recorded",
                "success", "tasks",
            ])
        #expect(report.table.contains("agents/engine   50.0%\n"))
    }

    @Test("bench train: a key per mode that ran")
    func train() throws {
        let both = TrainBenchReport(seqLen: 256, batch: 1, threads: 2, fullTokensPerSecond: 10, loraTokensPerSecond: 20)
        #expect(try Self.keys(both) == ["batch", "full_tokens_per_second", "lora_tokens_per_second", "seq_len", "threads"])
        let lora = TrainBenchReport(seqLen: 256, batch: 1, threads: 2, loraTokensPerSecond: 20)
        #expect(try Self.keys(lora) == ["batch", "lora_tokens_per_second", "seq_len", "threads"])
        #expect(
            both.table == "full      10.0 tokens/s  (batch 1 × seq 256, forward + backward + AdamW)\n"
                + "lora      20.0 tokens/s  (batch 1 × seq 256, forward + backward + AdamW)\n")
    }
}
