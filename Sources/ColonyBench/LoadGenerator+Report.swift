import Foundation

extension LoadGenerator {
    /// What a load run measured; `--json` prints it with the keys below.
    public struct Report: Sendable, Encodable {
        public var requests = 0
        public var errors = 0
        public var concurrency = 0
        public var wallSeconds = 0.0
        public var outputTokens = 0
        public var outputTokensPerSecond = 0.0
        public var ttftP50Ms = 0.0
        public var ttftP99Ms = 0.0
        public var itlP50Ms = 0.0
        public var itlP99Ms = 0.0
        /// TTFT of the first request and the median of the rest (the prefix-cache effect).
        public var firstRequestTTFTMs = 0.0
        public var laterRequestsTTFTP50Ms = 0.0
        public var firstError: String?

        enum CodingKeys: String, CodingKey {
            case requests, errors, concurrency
            case wallSeconds = "wall_seconds"
            case outputTokens = "output_tokens"
            case outputTokensPerSecond = "output_tokens_per_second"
            case ttftP50Ms = "ttft_p50_ms"
            case ttftP99Ms = "ttft_p99_ms"
            case itlP50Ms = "itl_p50_ms"
            case itlP99Ms = "itl_p99_ms"
            case firstRequestTTFTMs = "first_request_ttft_ms"
            case laterRequestsTTFTP50Ms = "later_requests_ttft_p50_ms"
            case firstError = "first_error"
        }

        /// The report as `colony loadgen` prints it.
        public var table: String {
            String(
                format: """
                    requests        %d (%d errors), concurrency %d, %.1f s
                    throughput      %.1f output tokens/s (%d tokens)
                    TTFT            p50 %.0f ms, p99 %.0f ms (first request %.0f ms, later p50 %.0f ms)
                    inter-token     p50 %.1f ms, p99 %.1f ms

                    """, requests, errors, concurrency, wallSeconds, outputTokensPerSecond, outputTokens,
                ttftP50Ms, ttftP99Ms, firstRequestTTFTMs, laterRequestsTTFTP50Ms, itlP50Ms, itlP99Ms)
        }
    }
}
