/// Errors of the tensor layer.
public enum TensorError: Error, Equatable, CustomStringConvertible {
    case cannotOpen(path: String, reason: String)
    case unsupportedType(DType, tensor: String)
    case shapeMismatch(tensor: String, expected: [Int], found: [Int])
    case rowNotBlockAligned(tensor: String, rowLength: Int, type: DType)
    case cannotQuantize(DType, tensor: String)

    public var description: String {
        switch self {
        case .cannotOpen(let path, let reason):
            "cannot open '\(path)': \(reason)"
        case .unsupportedType(let type, let tensor):
            "tensor '\(tensor)' has type \(type), which Colony cannot compute with yet; supported: "
                + DType.allCases.filter(\.isSupported).map(\.description).joined(separator: ", ")
        case .shapeMismatch(let tensor, let expected, let found):
            "expected tensor '\(tensor)' of \(expected.map(String.init).joined(separator: "×")), found \(found.map(String.init).joined(separator: "×"))"
        case .cannotQuantize(let type, let tensor):
            "cannot write tensor '\(tensor)' as \(type): Colony reads it but does not quantise to it (llama.cpp's llama-quantize does); writable: "
                + DType.allCases.filter(\.isQuantizable).map(\.description).joined(separator: ", ")
        case .rowNotBlockAligned(let tensor, let rowLength, let type):
            "tensor '\(tensor)' has rows of \(rowLength) elements, not a multiple of the \(type) block size \(type.blockElements)"
        }
    }
}
