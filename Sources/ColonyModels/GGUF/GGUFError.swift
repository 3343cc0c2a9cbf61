import ColonyTensor

/// What can be wrong with a GGUF file.
public enum GGUFError: Error, Equatable, CustomStringConvertible {
    case cannotOpen(path: String, reason: String)
    case notGGUF(path: String, magic: [UInt8])
    case unsupportedVersion(UInt32)
    case truncated(what: String, offset: Int, fileSize: Int)
    case invalidValueType(UInt32, key: String)
    case unsupportedTensorType(UInt32, tensor: String)
    case invalidTensor(name: String, reason: String)
    case invalidAlignment(Int)
    case duplicateKey(String)
    case missingMetadata(key: String)
    case wrongMetadataType(key: String, expected: String, found: GGUFValueType)

    public var description: String {
        switch self {
        case .cannotOpen(let path, let reason):
            "cannot open '\(path)': \(reason)"
        case .notGGUF(let path, let magic):
            "'\(path)' is not a GGUF file: it starts with bytes \(magic.map { String($0, radix: 16) }.joined(separator: " ")), expected \"GGUF\""
        case .unsupportedVersion(let v):
            "GGUF version \(v) is not supported; Colony reads versions 2 and 3 (re-convert the model with a current llama.cpp)"
        case .truncated(let what, let offset, let size):
            "GGUF file is truncated: \(what) at byte \(offset) runs past the end of the \(size)-byte file"
        case .invalidValueType(let raw, let key):
            "metadata '\(key)' has unknown value type \(raw)"
        case .unsupportedTensorType(let raw, let tensor):
            "tensor '\(tensor)' has unknown type id \(raw)"
        case .invalidTensor(let name, let reason):
            "tensor '\(name)': \(reason)"
        case .invalidAlignment(let a):
            "general.alignment is \(a); it must be a positive multiple of 8"
        case .duplicateKey(let key):
            "metadata key '\(key)' appears twice"
        case .missingMetadata(let key):
            "GGUF metadata has no '\(key)', which this model needs"
        case .wrongMetadataType(let key, let expected, let found):
            "metadata '\(key)' is a \(found), expected \(expected)"
        }
    }

    init(_ error: TensorError) {
        switch error {
        case .cannotOpen(let path, let reason): self = .cannotOpen(path: path, reason: reason)
        default: self = .invalidTensor(name: "", reason: error.description)
        }
    }
}
