import ArgumentParser
import ColonyModels
import ColonyTraining

/// ArgumentParser reads `--precision` of the training commands (train, eval, bench train) as
/// the engine's `ActivationPrecision`, offering only the precisions with a training path.
extension ActivationPrecision: ExpressibleByArgument {
    public init?(argument: String) {
        guard let value = Self(rawValue: argument), Self.frozenWeightCases.contains(value) else { return nil }
        self = value
    }

    public static var allValueStrings: [String] { frozenWeightCases.map(\.rawValue) }
}
