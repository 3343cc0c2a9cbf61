import ColonyHTTP
import ColonyOpenAI
import Foundation
import Synchronization

/// Drives an OpenAI-compatible server with streaming chat requests and measures what a
/// user sees: time to first token, time between tokens, aggregate output tokens/s.
/// Bounded: exactly `requests` requests, at most `concurrency` at once, loopback only.
public struct LoadGenerator: Sendable {
    public var endpoint: HTTPClient.Endpoint
    public var requests = 64
    public var concurrency = 8
    public var maxTokens = 64
    /// Words of a system prompt shared by every request (0: none).
    public var sharedPrefixWords = 0
    public var model: String?
    public var apiKey: String?

    public init(endpoint: HTTPClient.Endpoint) { self.endpoint = endpoint }

    public struct Report: Sendable, Encodable {
        public var requests = 0
        public var errors = 0
        public var concurrency = 0
        public var wall_seconds = 0.0
        public var output_tokens = 0
        public var output_tokens_per_second = 0.0
        public var ttft_p50_ms = 0.0
        public var ttft_p99_ms = 0.0
        public var itl_p50_ms = 0.0
        public var itl_p99_ms = 0.0
        /// TTFT of the first request and the median of the rest (the prefix-cache effect).
        public var first_request_ttft_ms = 0.0
        public var later_requests_ttft_p50_ms = 0.0
        public var first_error: String?
    }

    private struct Sample: Sendable {
        var ttft: Double?
        var gaps: [Double] = []
        var tokens = 0
        var error: String?
        var index = 0
    }

    /// Runs the load and returns the report; `progress` is called after each request.
    public func run(progress: @escaping @Sendable (Int) -> Void = { _ in }) throws(HTTPClient.Failure) -> Report {
        let modelName: String
        if let model { modelName = model } else { modelName = try discoverModel() }
        let prefix = sharedPrefixWords > 0 ? Self.prefix(words: sharedPrefixWords) : nil
        let next = Atomic<Int>(0)
        let samples = Mutex<[Sample]>([])
        let start = Date()
        // The first request runs alone so that its TTFT shows the cold prefix.
        let runOne: @Sendable (Int) -> Void = { i in
            let s = self.one(i, model: modelName, prefix: prefix)
            let done = samples.withLock { $0.append(s); return $0.count }
            progress(done)
        }
        runOne(0)
        _ = next.add(1, ordering: .relaxed)
        // One thread per concurrent client: the client blocks on its socket.
        let group = DispatchGroup()
        for _ in 0..<max(1, min(concurrency, requests - 1)) {
            group.enter()
            Thread.detachNewThread {
                while case let i = next.add(1, ordering: .relaxed).oldValue, i < requests { runOne(i) }
                group.leave()
            }
        }
        group.wait()
        return report(samples.withLock { $0 }, wall: Date().timeIntervalSince(start))
    }

    private func report(_ samples: [Sample], wall: Double) -> Report {
        var r = Report()
        r.requests = samples.count
        r.concurrency = concurrency
        r.errors = samples.filter { $0.error != nil }.count
        r.first_error = samples.compactMap(\.error).first
        r.wall_seconds = wall
        r.output_tokens = samples.map(\.tokens).reduce(0, +)
        r.output_tokens_per_second = Double(r.output_tokens) / max(wall, 1e-9)
        let ttfts = samples.compactMap(\.ttft).sorted()
        let gaps = samples.flatMap(\.gaps).sorted()
        r.ttft_p50_ms = Self.percentile(ttfts, 0.5) * 1000
        r.ttft_p99_ms = Self.percentile(ttfts, 0.99) * 1000
        r.itl_p50_ms = Self.percentile(gaps, 0.5) * 1000
        r.itl_p99_ms = Self.percentile(gaps, 0.99) * 1000
        r.first_request_ttft_ms = (samples.first { $0.index == 0 }?.ttft ?? 0) * 1000
        r.later_requests_ttft_p50_ms = Self.percentile(samples.filter { $0.index != 0 }.compactMap(\.ttft).sorted(), 0.5) * 1000
        return r
    }

    static func percentile(_ sorted: [Double], _ q: Double) -> Double {
        guard !sorted.isEmpty else { return 0 }
        return sorted[min(sorted.count - 1, Int((q * Double(sorted.count - 1)).rounded()))]
    }

    private func discoverModel() throws(HTTPClient.Failure) -> String {
        let r = try HTTPClient.send("GET", endpoint, path: "/v1/models", headers: authorization)
        guard r.status == 200, let id = (try? JSONDecoder().decode(ModelList.self, from: r.body))?.data.first?.id else {
            throw HTTPClient.Failure(description: "GET /v1/models answered \(r.status); pass --model")
        }
        return id
    }

    private var authorization: [String: String] { apiKey.map { ["Authorization": "Bearer \($0)"] } ?? [:] }

    /// A deterministic block of ordinary text, about one token per word.
    static func prefix(words: Int) -> String {
        let vocabulary = ["river", "mountain", "quiet", "engine", "garden", "signal", "orange", "window", "paper", "cloud",
                          "stone", "market", "silver", "forest", "lamp", "harbor"]
        return (0..<words).map { vocabulary[($0 * 7 + $0 / 3) % vocabulary.count] }.joined(separator: " ")
    }

    private func one(_ index: Int, model: String, prefix: String?) -> Sample {
        var sample = Sample(index: index)
        var messages: [ChatCompletionRequest.Message] = []
        if let prefix { messages.append(.init(role: "system", content: "Context: " + prefix)) }
        messages.append(.init(role: "user", content: "Request \(index): tell a short story about topic number \(index % 17)."))
        let options = CompletionOptions(model: model, maxTokens: maxTokens, temperature: 0, stream: true,
                                        streamOptions: .init(includeUsage: true))
        let data = try! JSONEncoder().encode(ChatCompletionRequest(options: options, messages: messages)) // strings and numbers only
        let start = Date()
        var last = start
        var parser = SSEParser()
        var usageTokens: Int?
        do {
            let response = try HTTPClient.send("POST", endpoint, path: "/v1/chat/completions",
                                               headers: authorization.merging(["Content-Type": "application/json"]) { a, _ in a },
                                               body: data) { chunk in
                let now = Date()
                for event in parser.feed(chunk) where event != "[DONE]" {
                    guard let chunk = try? JSONDecoder().decode(ChatCompletionChunk.self, from: Data(event.utf8)) else { continue }
                    if let usage = chunk.usage { usageTokens = usage.completionTokens }
                    if let content = chunk.choices.first?.delta.content, !content.isEmpty {
                        if sample.ttft == nil { sample.ttft = now.timeIntervalSince(start) } else { sample.gaps.append(now.timeIntervalSince(last)) }
                        last = now
                        sample.tokens += 1
                    }
                }
                return true
            }
            if response.status != 200 { sample.error = "HTTP \(response.status): \(String(decoding: response.body.prefix(200), as: UTF8.self))" }
        } catch {
            sample.error = error.description
        }
        if let usageTokens { sample.tokens = usageTokens }
        return sample
    }
}
