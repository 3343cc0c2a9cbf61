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
            let done = samples.withLock {
                $0.append(s)
                return $0.count
            }
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
        r.firstError = samples.compactMap(\.error).first
        r.wallSeconds = wall
        r.outputTokens = samples.map(\.tokens).reduce(0, +)
        r.outputTokensPerSecond = Double(r.outputTokens) / max(wall, 1e-9)
        let ttfts = samples.compactMap(\.ttft).sorted()
        let gaps = samples.flatMap(\.gaps).sorted()
        r.ttftP50Ms = Statistics.percentile(sorted: ttfts, 0.5) * 1000
        r.ttftP99Ms = Statistics.percentile(sorted: ttfts, 0.99) * 1000
        r.itlP50Ms = Statistics.percentile(sorted: gaps, 0.5) * 1000
        r.itlP99Ms = Statistics.percentile(sorted: gaps, 0.99) * 1000
        r.firstRequestTTFTMs = (samples.first { $0.index == 0 }?.ttft ?? 0) * 1000
        r.laterRequestsTTFTP50Ms = Statistics.percentile(samples.filter { $0.index != 0 }.compactMap(\.ttft), 0.5) * 1000
        return r
    }

    private func discoverModel() throws(HTTPClient.Failure) -> String {
        try Self.discoverModel(endpoint, headers: authorization)
    }

    /// The first model the server lists.
    static func discoverModel(_ endpoint: HTTPClient.Endpoint, headers: [String: String]) throws(HTTPClient.Failure) -> String {
        let r = try HTTPClient.send("GET", endpoint, path: "/v1/models", headers: headers)
        guard r.status == 200, let id = (try? JSONDecoder().decode(ModelList.self, from: r.body))?.data.first?.id else {
            throw HTTPClient.Failure(description: "GET /v1/models answered \(r.status); pass --model")
        }
        return id
    }

    private var authorization: [String: String] { apiKey.map { ["Authorization": "Bearer \($0)"] } ?? [:] }

    /// A deterministic block of ordinary text, about one token per word.
    static func prefix(words: Int, seed: Int = 0) -> String {
        let vocabulary = [
            "river", "mountain", "quiet", "engine", "garden", "signal", "orange", "window", "paper", "cloud",
            "stone", "market", "silver", "forest", "lamp", "harbor",
        ]
        return (0..<words).map { vocabulary[($0 * 7 + $0 / 3 + seed * ($0 % 5 + 1)) % vocabulary.count] }.joined(separator: " ")
    }

    private func one(_ index: Int, model: String, prefix: String?) -> Sample {
        var messages: [ChatCompletionRequest.Message] = []
        if let prefix { messages.append(.init(role: "system", content: "Context: " + prefix)) }
        messages.append(.init(role: "user", content: "Request \(index): tell a short story about topic number \(index % 17)."))
        let options = CompletionOptions(
            model: model, maxTokens: maxTokens, temperature: 0, stream: true,
            streamOptions: .init(includeUsage: true))
        let reply = StreamedChat.send(ChatCompletionRequest(options: options, messages: messages), to: endpoint, headers: authorization)
        return Sample(ttft: reply.ttft, gaps: reply.gaps, tokens: reply.tokens, error: reply.error, index: index)
    }
}
