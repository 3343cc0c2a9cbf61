import Foundation

/// Chooses tokens from logits: penalties, then top-k, top-p, min-p, temperature, and a
/// draw from a seeded generator (the order llama.cpp uses).
public struct Sampler: Sendable {
    public let parameters: SamplingParameters
    private var rng: SplitMix64

    public init(_ parameters: SamplingParameters) throws(ModelError) {
        try parameters.validate()
        self.parameters = parameters
        rng = SplitMix64(seed: parameters.seed)
    }

    /// Moves the generator on as sampling `tokens` tokens would (each non-greedy token is
    /// one draw): a request resumed elsewhere draws what it would have drawn undisturbed.
    public mutating func skip(tokens: Int) {
        if parameters.temperature > 0 { rng.advance(by: UInt64(tokens)) }
    }

    /// The next token given the logits and the tokens so far (prompt and output).
    public mutating func sample(_ logits: [Float], history: [Int]) -> Int {
        var logits = logits
        applyPenalties(&logits, history: history)
        if parameters.temperature == 0 { return Self.argmax(logits) }

        // Candidates sorted by logit, most likely first.
        var candidates: [(id: Int, logit: Float)]
        let k = parameters.topK > 0 ? min(parameters.topK, logits.count) : logits.count
        if k < logits.count {
            candidates = Self.topK(logits, k)
        } else {
            candidates = logits.enumerated().map { ($0.offset, $0.element) }.sorted { $0.logit > $1.logit }
        }
        // Probabilities at temperature 1 decide top-p and min-p (llama.cpp applies the
        // temperature last).
        let maxLogit = candidates[0].logit
        var probs = candidates.map { exp($0.logit - maxLogit) }
        let total = probs.reduce(0, +)
        var keep = candidates.count
        if parameters.topP < 1 {
            var cumulative: Float = 0
            for (i, p) in probs.enumerated() {
                cumulative += p / total
                if cumulative >= parameters.topP {
                    keep = i + 1
                    break
                }
            }
        }
        if parameters.minP > 0 {
            let threshold = parameters.minP  // relative to the top probability, which is exp(0) = 1
            keep = min(keep, max(1, probs.prefix(keep).firstIndex { $0 < threshold } ?? keep))
        }
        candidates.removeSubrange(keep...)
        probs = candidates.map { exp(($0.logit - maxLogit) / parameters.temperature) }
        let sum = probs.reduce(0, +)
        var r = Float(rng.nextUnit()) * sum
        for (i, p) in probs.enumerated() {
            r -= p
            if r <= 0 { return candidates[i].id }
        }
        return candidates[candidates.count - 1].id
    }

    private func applyPenalties(_ logits: inout [Float], history: [Int]) {
        let p = parameters
        guard p.penaltyWindow > 0, p.repetitionPenalty != 1 || p.presencePenalty != 0 || p.frequencyPenalty != 0 else { return }
        var counts: [Int: Int] = [:]
        for t in history.suffix(p.penaltyWindow) where t >= 0 && t < logits.count { counts[t, default: 0] += 1 }
        for (t, n) in counts {
            if p.repetitionPenalty != 1 {
                logits[t] = logits[t] > 0 ? logits[t] / p.repetitionPenalty : logits[t] * p.repetitionPenalty
            }
            logits[t] -= p.presencePenalty + Float(n) * p.frequencyPenalty
        }
    }

    /// Index of the largest logit (the lowest index on ties).
    public static func argmax(_ logits: [Float]) -> Int {
        var best = 0
        for i in 1..<logits.count where logits[i] > logits[best] { best = i }
        return best
    }

    /// The k largest logits, sorted descending, in O(n log k).
    public static func topK(_ logits: [Float], _ k: Int) -> [(id: Int, logit: Float)] {
        var heap: [(id: Int, logit: Float)] = []  // min-heap on logit, size ≤ k
        heap.reserveCapacity(k)
        func less(_ a: (id: Int, logit: Float), _ b: (id: Int, logit: Float)) -> Bool {
            a.logit < b.logit || (a.logit == b.logit && a.id > b.id)
        }
        func siftDown(_ i: Int) {
            var i = i
            while true {
                let l = 2 * i + 1
                let r = l + 1
                var m = i
                if l < heap.count, less(heap[l], heap[m]) { m = l }
                if r < heap.count, less(heap[r], heap[m]) { m = r }
                if m == i { return }
                heap.swapAt(i, m)
                i = m
            }
        }
        for (id, logit) in logits.enumerated() {
            if heap.count < k {
                heap.append((id, logit))
                var c = heap.count - 1
                while c > 0, less(heap[c], heap[(c - 1) / 2]) {
                    heap.swapAt(c, (c - 1) / 2)
                    c = (c - 1) / 2
                }
            } else if less(heap[0], (id, logit)) {
                heap[0] = (id, logit)
                siftDown(0)
            }
        }
        return heap.sorted { less($1, $0) }
    }
}
