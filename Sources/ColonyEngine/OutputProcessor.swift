import ColonyModels
import Foundation

/// Turns logits into what a client sees: sampling (with penalties, `min_tokens`,
/// `ignore_eos` and JSON constraints), detokenizing without splitting characters, stop
/// tokens and stop strings, and each request's event stream.
///
/// It decides when a request ends for its own reasons (stop, length, a full context); the
/// scheduler decides only about resources. Not thread-safe: one engine step drives it.
public final class OutputProcessor {
    public let tokenizer: Tokenizer
    /// Tokens (prompt and output) a request may hold at most.
    public let contextLimit: Int
    /// Latency histograms, token counts and finish reasons of the requests processed.
    public private(set) var stats = EngineStats()
    private let defaultStops: Set<Int>
    private var states: [String: State] = [:]

    public init(tokenizer: Tokenizer, contextLimit: Int) {
        self.tokenizer = tokenizer
        self.contextLimit = contextLimit
        defaultStops = tokenizer.endOfTurnTokens
    }

    /// Starts a request; its events go to `sink`, the last one `.finished`.
    /// - Throws: `ModelError.invalidSampling` for sampling parameters out of range.
    public func add(_ request: EngineRequest, sink: @escaping (EngineEvent) -> Void) throws(ModelError) {
        states[request.id] = try State(request: request, tokenizer: tokenizer, sink: sink)
    }

    /// Samples the next token of `id` from `logits`, streams its text, and says whether the
    /// request goes on. `history` is its prompt and output so far (for penalties).
    public func sample(_ id: String, logits: [Float], history: [Int]) -> SampleOutcome {
        guard let s = states[id] else { return SampleOutcome(token: nil, finish: .cancelled) }
        let now = Date()
        let stops = s.request.stopTokens.isEmpty ? defaultStops : s.request.stopTokens
        var logits = logits
        if s.generated < s.request.minTokens { for t in stops where t < logits.count { logits[t] = -.infinity } }
        if s.request.ignoreEOS { for t in defaultStops where t < logits.count { logits[t] = -.infinity } }
        let token: Int
        if var recognizer = s.recognizer {
            token = s.sampler.sample(constrained(logits, recognizer), history: history)
            _ = recognizer.accept(tokenizer.bytes(of: token))
            s.recognizer = recognizer
        } else {
            token = s.sampler.sample(logits, history: history)
        }
        if s.generated == 0 {
            stats.timeToFirstToken.observe(now.timeIntervalSince(s.request.arrival))
        } else if let last = s.lastTokenAt {
            stats.interTokenLatency.observe(now.timeIntervalSince(last))
        }
        s.lastTokenAt = now
        if s.recognizer == nil, stops.contains(token) { return SampleOutcome(token: nil, finish: .stop) }

        s.generated += 1
        stats.generatedTokens += 1
        var (text, stopped) = s.stopMatcher.append(s.detokenizer.append(token))
        var reason: FinishReason? = stopped ? .stop : nil
        if reason == nil {
            if s.recognizer?.isComplete == true {
                reason = .stop
            } else if s.generated >= s.request.maxTokens {
                reason = .length
            } else if history.count + 1 >= contextLimit {
                reason = .contextFull
            }
        }
        if reason != nil {
            if !stopped { text += s.stopMatcher.append(s.detokenizer.flush()).text + s.stopMatcher.flush() }
            s.flushed = true
        }
        s.sink(.token(id: token, text: text))
        return SampleOutcome(token: token, finish: reason)
    }

    /// Ends a request's stream with `.finished`, with any text still held back (none when
    /// cancelled), and forgets it.
    public func finish(_ id: String, _ reason: FinishReason, cachedPromptTokens: Int) {
        guard let s = states.removeValue(forKey: id) else { return }
        var tail = ""
        if !s.flushed, reason != .cancelled { tail = s.stopMatcher.append(s.detokenizer.flush()).text + s.stopMatcher.flush() }
        stats.finished[reason.rawValue, default: 0] += 1
        stats.promptTokens += s.request.promptTokens.count
        let usage = Usage(promptTokens: s.request.promptTokens.count, completionTokens: s.generated, cachedPromptTokens: cachedPromptTokens)
        s.sink(.finished(reason, usage, trailingText: tail))
    }

    /// Logits with every token the JSON recognizer would reject set to -∞. The most likely
    /// tokens are tried first; the whole vocabulary only when none of them fits.
    private func constrained(_ logits: [Float], _ recognizer: JSONRecognizer) -> [Float] {
        var masked = [Float](repeating: -.infinity, count: logits.count)
        func fits(_ id: Int) -> Bool {
            let bytes = tokenizer.bytes(of: id)
            guard !bytes.isEmpty, !tokenizer.isControl(id) else { return false }
            var r = recognizer
            return r.accept(bytes)
        }
        for (id, logit) in Sampler.topK(logits, 64) where fits(id) { masked[id] = logit }
        if !masked.contains(where: { $0 > -.infinity }) {
            for id in logits.indices where fits(id) { masked[id] = logits[id] }
        }
        return masked
    }

    /// The output side of one request.
    private final class State {
        let request: EngineRequest
        let sink: (EngineEvent) -> Void
        var sampler: Sampler
        var detokenizer: StreamingDetokenizer
        var stopMatcher: StopMatcher
        var recognizer: JSONRecognizer?
        var generated = 0
        var lastTokenAt: Date?
        /// Held-back text was already sent with the last token.
        var flushed = false

        init(request: EngineRequest, tokenizer: Tokenizer, sink: @escaping (EngineEvent) -> Void) throws(ModelError) {
            self.request = request
            self.sink = sink
            sampler = try Sampler(request.sampling)
            detokenizer = StreamingDetokenizer(tokenizer: tokenizer)
            stopMatcher = StopMatcher(stops: request.stopStrings)
            recognizer = request.constraint.map { JSONRecognizer(constraint: $0) }
            let resumed = request.promptTokens.suffix(request.resumedTokens)
            sampler.skip(tokens: resumed.count)
            for token in resumed { _ = recognizer?.accept(tokenizer.bytes(of: token)) }
        }
    }
}

/// What sampling one token did: the token streamed (nil when a stop token ended the
/// request) and why the request ends, if it does.
public struct SampleOutcome: Sendable, Equatable {
    public var token: Int?
    public var finish: FinishReason?

    public init(token: Int?, finish: FinishReason?) {
        self.token = token
        self.finish = finish
    }
}
