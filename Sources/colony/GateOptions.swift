import ArgumentParser
import ColonyRouting

/// The promotion gate of a server that runs registry versions under a traffic split.
struct GateOptions: ParsableArguments {
    @Flag(name: .long, help: "Do not promote or roll back split challengers on their own (outcomes are still reported).")
    var noGate = false

    @Option(name: .long, help: "Outcomes (feedback) each version needs before the gate decides.")
    var gateMinSamples = 30

    @Option(name: .long, help: "Outcomes per version after which a challenger that has not proved better is rolled back.")
    var gateMaxSamples = 1_000

    @Option(name: .long, help: "Two-sided confidence of the interval on the success-rate difference, in (0.5, 1).")
    var gateConfidence = 0.99

    func validate() throws {
        guard gateConfidence > 0.5, gateConfidence < 1 else {
            throw ValidationError("--gate-confidence must be in (0.5, 1), got \(gateConfidence)")
        }
        do { try gate?.validate() } catch { throw ValidationError(error.description) }
    }

    /// The gate these flags describe, or nil with --no-gate.
    var gate: PromotionGate? {
        noGate
            ? nil
            : PromotionGate(
                minimumSamples: gateMinSamples, maximumSamples: gateMaxSamples, z: PromotionGate.quantile(confidence: gateConfidence))
    }
}
