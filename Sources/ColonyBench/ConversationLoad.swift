import ColonyHTTP
import ColonyOpenAI
import Foundation
import Synchronization

/// Agent-like traffic: conversations, each with its own long system prompt and a history
/// that grows by one exchange per turn, sent turn after turn (each conversation names
/// itself in `user`, as an agent framework's session would). With `prefixReuse` off, every
/// request instead gets a prompt of its own of the same size: traffic no cache can help.
public struct ConversationLoad: Sendable {
    public var endpoint: HTTPClient.Endpoint
    public var conversations = 12
    public var turns = 4
    /// Conversations in flight at once.
    public var concurrency = 6
    /// Words (about one token each) of each conversation's system prompt.
    public var systemWords = 200
    public var maxTokens = 16
    public var prefixReuse = true
    public var model: String?

    public init(endpoint: HTTPClient.Endpoint) { self.endpoint = endpoint }

    private struct Turn: Sendable {
        var turn: Int
        var reply: StreamedChat
    }

    /// Runs every conversation to its last turn; `progress` gets the requests done so far.
    public func run(progress: @escaping @Sendable (Int) -> Void = { _ in }) throws(HTTPClient.Failure) -> Report {
        let modelName: String
        if let model { modelName = model } else { modelName = try LoadGenerator.discoverModel(endpoint, headers: [:]) }
        let next = Atomic<Int>(0)
        let results = Mutex<[Turn]>([])
        let start = Date()
        let group = DispatchGroup()
        for _ in 0..<max(1, min(concurrency, conversations)) {
            group.enter()
            Thread.detachNewThread {
                while case let c = next.add(1, ordering: .relaxed).oldValue, c < conversations {
                    for turn in self.converse(c, model: modelName) {
                        let done = results.withLock {
                            $0.append(turn)
                            return $0.count
                        }
                        progress(done)
                    }
                }
                group.leave()
            }
        }
        group.wait()
        return report(results.withLock { $0 }, wall: Date().timeIntervalSince(start))
    }

    private func converse(_ c: Int, model: String) -> [Turn] {
        var history: [ChatCompletionRequest.Message] = [
            .init(role: "system", content: "You are agent \(c). Instructions: " + LoadGenerator.prefix(words: systemWords, seed: c + 1))
        ]
        var done: [Turn] = []
        for t in 0..<turns {
            var messages = history
            if !prefixReuse {
                let unique = c * turns + t + 1
                messages = [
                    .init(
                        role: "system",
                        content: "You are agent \(unique). " + LoadGenerator.prefix(words: systemWords + t * 24, seed: unique))
                ]
            }
            messages.append(.init(role: "user", content: "Step \(t): report on item \(c * 31 + t)."))
            var options = CompletionOptions(
                model: model, maxTokens: maxTokens, temperature: 0, stream: true, streamOptions: .init(includeUsage: true))
            options.user = "conversation-\(c)"
            let reply = StreamedChat.send(ChatCompletionRequest(options: options, messages: messages), to: endpoint, headers: [:])
            done.append(Turn(turn: t, reply: reply))
            history = messages + [.init(role: "assistant", content: reply.text)]
        }
        return done
    }

    private func report(_ turns: [Turn], wall: Double) -> Report {
        var r = Report()
        r.conversations = conversations
        r.turns = self.turns
        r.requests = turns.count
        r.errors = turns.filter { $0.reply.error != nil }.count
        r.firstError = turns.compactMap(\.reply.error).first
        r.wallSeconds = wall
        r.outputTokensPerSecond = Double(turns.map(\.reply.tokens).reduce(0, +)) / max(wall, 1e-9)
        let first = turns.filter { $0.turn == 0 }.compactMap(\.reply.ttft)
        let later = turns.filter { $0.turn > 0 }.compactMap(\.reply.ttft).sorted()
        r.firstTurnTTFTP50Ms = Statistics.percentile(first, 0.5) * 1000
        r.laterTurnTTFTP50Ms = Statistics.percentile(sorted: later, 0.5) * 1000
        r.laterTurnTTFTP99Ms = Statistics.percentile(sorted: later, 0.99) * 1000
        let prompt = turns.map(\.reply.promptTokens).reduce(0, +)
        r.prefixHitRate = prompt == 0 ? 0 : Double(turns.map(\.reply.cachedPromptTokens).reduce(0, +)) / Double(prompt)
        return r
    }

    /// What a conversation load measured.
    public struct Report: PrintableReport, Equatable {
        public var conversations = 0
        public var turns = 0
        public var requests = 0
        public var errors = 0
        public var firstError: String?
        public var wallSeconds = 0.0
        public var outputTokensPerSecond = 0.0
        public var firstTurnTTFTP50Ms = 0.0
        public var laterTurnTTFTP50Ms = 0.0
        public var laterTurnTTFTP99Ms = 0.0
        /// Share of prompt tokens the servers took from their prefix caches.
        public var prefixHitRate = 0.0

        enum CodingKeys: String, CodingKey {
            case conversations, turns, requests, errors
            case firstError = "first_error"
            case wallSeconds = "wall_seconds"
            case outputTokensPerSecond = "output_tokens_per_second"
            case firstTurnTTFTP50Ms = "first_turn_ttft_p50_ms"
            case laterTurnTTFTP50Ms = "later_turn_ttft_p50_ms"
            case laterTurnTTFTP99Ms = "later_turn_ttft_p99_ms"
            case prefixHitRate = "prefix_hit_rate"
        }

        public var table: String {
            """
            conversations \(conversations) × \(turns) turns: \(requests) requests, \(errors) errors in \(String(format: "%.1f", wallSeconds)) s
            output tokens/s      \(String(format: "%.1f", outputTokensPerSecond))
            TTFT first turn p50  \(String(format: "%.1f", firstTurnTTFTP50Ms)) ms
            TTFT later turns     p50 \(String(format: "%.1f", laterTurnTTFTP50Ms)) ms, p99 \(String(format: "%.1f", laterTurnTTFTP99Ms)) ms
            prefix-cache hits    \(String(format: "%.1f", prefixHitRate * 100)) % of prompt tokens

            """
        }
    }
}
