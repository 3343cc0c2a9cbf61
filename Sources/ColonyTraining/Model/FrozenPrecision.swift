import ColonyModels
import Foundation

/// Training computes products with frozen quantized weights (the LoRA base, `colony eval`)
/// with the engine's `ActivationPrecision`, restricted to the precisions that have a
/// training path: `int16` (the integer kernels) and `float32` (weights expanded for BLAS).
extension ActivationPrecision {
    /// The precisions training accepts, in the order the CLI lists them.
    public static let frozenWeightCases: [ActivationPrecision] = [.int16, .float32]

    /// The integer-kernel runtime for `int16`; nil for `float32`, which expands weights to f32.
    ///
    /// - Throws: `TrainingError.invalidArgument` for `int8`: there is no int8 training kernel.
    public func packedRuntime(threads: Int?) throws(TrainingError) -> PackedRuntime? {
        switch self {
        case .int16: PackedRuntime(threads: threads ?? ProcessInfo.processInfo.activeProcessorCount)
        case .float32: nil
        case .int8: throw .invalidArgument("--precision int8 has no training kernels; use int16 or float32")
        }
    }
}
