import Foundation

/// Decides, from live outcomes, whether a challenger replaces the serving version: a
/// confidence bound on the difference of their success rates, after a minimum sample.
///
/// The bound is Newcombe's hybrid score interval (built from each arm's Wilson interval),
/// which stays honest at small samples and at rates of 0 or 1 where the normal
/// approximation has no width. With `z` the two-sided normal quantile (2.576 ≈ 99%):
/// - promote when the whole interval of challenger − champion lies above `margin`;
/// - roll back when it lies below 0 (the challenger is worse);
/// - roll back as well once both arms have `maximumSamples` without a difference: a
///   canary that cannot show it is better does not take the traffic;
/// - otherwise wait. The gate may be asked after every outcome; 99% by default keeps the
///   false decisions of such repeated looks rare.
///
/// ```swift
/// let gate = PromotionGate()
/// gate.decide(champion: .init(trials: 120, successes: 40), challenger: .init(trials: 60, successes: 45))  // .promote
/// ```
public struct PromotionGate: Sendable, Equatable, Codable {
    /// Outcomes of one version: requests that got feedback, and how many succeeded.
    public struct Outcomes: Sendable, Equatable, Codable {
        public var trials: Int
        public var successes: Int

        public init(trials: Int, successes: Int) {
            self.trials = trials
            self.successes = successes
        }

        public var rate: Double { trials == 0 ? 0 : Double(successes) / Double(trials) }
    }

    /// What the gate saw and concluded, for the registry's log.
    public struct Evidence: Sendable, Equatable, Codable {
        public var champion: Outcomes
        public var challenger: Outcomes
        /// Challenger's success rate minus the champion's, with its confidence interval.
        public var difference: Double
        public var lower: Double
        public var upper: Double
        public var confidence: Double
    }

    public enum Decision: Sendable, Equatable {
        case promote(Evidence)
        case rollBack(Evidence)
        case wait(String)
    }

    /// Outcomes each arm needs before the gate decides anything.
    public var minimumSamples = 30
    /// Outcomes per arm after which a challenger that has not proved better is rolled back.
    public var maximumSamples = 1_000
    /// Two-sided normal quantile of the interval.
    public var z = 2.576
    /// How much better (in success rate) the challenger must be to be promoted.
    public var margin = 0.0

    public init(minimumSamples: Int = 30, maximumSamples: Int = 1_000, z: Double = 2.576, margin: Double = 0) {
        self.minimumSamples = minimumSamples
        self.maximumSamples = maximumSamples
        self.z = z
        self.margin = margin
    }

    /// Checks the settings; the message names the bad one.
    public func validate() throws(SplitError) {
        guard minimumSamples >= 1 else { throw .invalid("gate", "the minimum sample must be ≥ 1, got \(minimumSamples)") }
        guard maximumSamples >= minimumSamples else {
            throw .invalid("gate", "the maximum sample (\(maximumSamples)) must be ≥ the minimum (\(minimumSamples))")
        }
        guard z > 0, z.isFinite else { throw .invalid("gate", "z must be a positive number, got \(z)") }
        guard (0..<1).contains(margin) else { throw .invalid("gate", "the margin must be in [0, 1), got \(margin)") }
    }

    public func decide(champion: Outcomes, challenger: Outcomes) -> Decision {
        let fewest = min(champion.trials, challenger.trials)
        guard fewest >= minimumSamples else {
            return .wait("\(fewest) of the \(minimumSamples) outcomes per version needed so far")
        }
        let (c, b) = (Self.wilson(challenger, z: z), Self.wilson(champion, z: z))
        let d = challenger.rate - champion.rate
        let lower =
            d
            - ((challenger.rate - c.lower) * (challenger.rate - c.lower) + (b.upper - champion.rate) * (b.upper - champion.rate))
            .squareRoot()
        let upper =
            d
            + ((c.upper - challenger.rate) * (c.upper - challenger.rate) + (champion.rate - b.lower) * (champion.rate - b.lower))
            .squareRoot()
        let evidence = Evidence(
            champion: champion, challenger: challenger, difference: d, lower: lower, upper: upper, confidence: Self.confidence(z))
        if lower > margin { return .promote(evidence) }
        if upper < 0 || fewest >= maximumSamples { return .rollBack(evidence) }
        return .wait(String(format: "difference %+.3f, interval [%.3f, %.3f] still spans the bar", d, lower, upper))
    }

    /// Wilson's score interval of one success rate.
    static func wilson(_ o: Outcomes, z: Double) -> (lower: Double, upper: Double) {
        let n = Double(o.trials)
        let p = o.rate
        let denominator = 1 + z * z / n
        let centre = (p + z * z / (2 * n)) / denominator
        let half = z * (p * (1 - p) / n + z * z / (4 * n * n)).squareRoot() / denominator
        return (max(0, centre - half), min(1, centre + half))
    }

    /// The two-sided confidence of quantile `z`.
    static func confidence(_ z: Double) -> Double { erf(z / 2.squareRoot()) }

    /// The quantile `z` whose two-sided confidence is `confidence` (0.99 → 2.576), by
    /// bisection of `erf`.
    public static func quantile(confidence: Double) -> Double {
        var (low, high) = (0.0, 10.0)
        for _ in 0..<100 {
            let mid = (low + high) / 2
            if Self.confidence(mid) < confidence { low = mid } else { high = mid }
        }
        return (low + high) / 2
    }
}
