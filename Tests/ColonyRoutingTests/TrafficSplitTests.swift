import ColonyModels
import ColonyRouting
import Foundation
import Testing

@Suite("A/B traffic splits and the promotion gate")
struct TrafficSplitTests {
    @Test("a split parses, and bad splits are refused with what is wrong")
    func parsing() throws {
        let split = try TrafficSplit(parsing: "prod=vA:90,vB:10")
        #expect(split.ref == "prod" && split.champion == "vA" && split.challengers == ["vB"] && split.description == "prod=vA:90,vB:10")
        for (bad, says) in [
            ("vA:90,vB:10", "REF=ID:SHARE"), ("prod=vA:90,vB:20", "sum to 110"), ("prod=vA:100", "at least two"),
            ("prod=vA:90,vA:10", "appears twice"), ("prod=vA:x,vB:10", "whole percent"), ("prod=vA:-5,vB:105", "whole percent"),
            ("prod=vA:90,,vB:10", "is not ID:SHARE"),
        ] {
            #expect {
                try TrafficSplit(parsing: bad)
            } throws: { error in
                "\(error)".contains(says)
            }
        }
    }

    @Test("sessions land on the arms in proportion to their shares, and each session keeps its version")
    func proportionsAndStickiness() throws {
        let split = try TrafficSplit(parsing: "prod=vA:70,vB:20,vC:10")
        var counts: [String: Int] = [:]
        for s in 0..<10_000 {
            let chosen = split.version(for: "session-\(s)")
            counts[chosen, default: 0] += 1
            #expect(split.version(for: "session-\(s)") == chosen, "sticky")
        }
        for (version, share) in [("vA", 0.7), ("vB", 0.2), ("vC", 0.1)] {
            #expect(abs(Double(counts[version]!) / 10_000 - share) < 0.02, "\(version): \(counts[version]!) of 10000")
        }
        // Growing the challenger's share moves champion sessions to it, never the reverse.
        let smaller = try TrafficSplit(parsing: "prod=vA:90,vB:10")
        let larger = try TrafficSplit(parsing: "prod=vA:80,vB:20")
        for s in 0..<2_000 where smaller.version(for: "s\(s)") == "vB" { #expect(larger.version(for: "s\(s)") == "vB") }
    }

    /// Outcomes drawn with success probability `p` from a fixed seed.
    private static func outcomes(_ p: Double, seed: UInt64) -> () -> Bool {
        var rng = SplitMix64(seed: seed)
        return { rng.nextUnit() < p }
    }

    /// Feeds outcomes one at a time (two champion per challenger, as a 67/33 split would) and
    /// asks the gate after each, as `serve` does; returns its first decision.
    private static func firstDecision(champion p: Double, challenger q: Double, gate: PromotionGate) -> PromotionGate.Decision {
        let (drawChampion, drawChallenger) = (outcomes(p, seed: 1), outcomes(q, seed: 2))
        var (a, b) = (PromotionGate.Outcomes(trials: 0, successes: 0), PromotionGate.Outcomes(trials: 0, successes: 0))
        for i in 0..<10_000 {
            if i % 3 == 2 {
                b.trials += 1
                if drawChallenger() { b.successes += 1 }
            } else {
                a.trials += 1
                if drawChampion() { a.successes += 1 }
            }
            if case .wait = gate.decide(champion: a, challenger: b) { continue }
            return gate.decide(champion: a, challenger: b)
        }
        return .wait("never decided")
    }

    @Test("the gate promotes a planted better version, rolls back a planted worse one, and rolls back one that never proves better")
    func gate() throws {
        let gate = PromotionGate(minimumSamples: 30, maximumSamples: 400)
        guard case .promote(let better) = Self.firstDecision(champion: 0.3, challenger: 0.6, gate: gate) else {
            Issue.record("a challenger twice as good was not promoted")
            return
        }
        #expect(better.lower > 0 && better.challenger.trials >= 30 && better.confidence > 0.98 && better.confidence < 0.995)
        guard case .rollBack(let worse) = Self.firstDecision(champion: 0.5, challenger: 0.2, gate: gate) else {
            Issue.record("a challenger much worse was not rolled back")
            return
        }
        #expect(worse.upper < 0 && worse.challenger.trials < 400)
        guard case .rollBack(let same) = Self.firstDecision(champion: 0.4, challenger: 0.4, gate: gate) else {
            Issue.record("an equal challenger was not rolled back at the maximum sample")
            return
        }
        #expect(same.challenger.trials == 400 && same.lower < 0 && same.upper > 0)
        // Before the minimum sample, nothing is decided whatever the rates.
        #expect(
            gate.decide(champion: .init(trials: 29, successes: 0), challenger: .init(trials: 29, successes: 29))
                == .wait("29 of the 30 outcomes per version needed so far"))
        #expect(throws: SplitError.self) { try PromotionGate(minimumSamples: 10, maximumSamples: 5).validate() }
    }
}
