import ColonyKernels

/// Element type of a tensor, numbered as GGML numbers them (the GGUF type id).
///
/// Every GGML type is named so a file with an unsupported type gets an error naming it;
/// `isSupported` says which ones Colony's kernels compute with. Cases keep GGML's own
/// names (`q4_K`, `iq2_xxs`) so they read as in llama.cpp and the GGUF spec.
// swift-format-ignore: AlwaysUseLowerCamelCase
public enum DType: UInt32, Sendable, CaseIterable, CustomStringConvertible {
    case f32 = 0
    case f16 = 1
    case q4_0 = 2
    case q4_1 = 3
    case q5_0 = 6
    case q5_1 = 7
    case q8_0 = 8
    case q8_1 = 9
    case q2_K = 10
    case q3_K = 11
    case q4_K = 12
    case q5_K = 13
    case q6_K = 14
    case q8_K = 15
    case iq2_xxs = 16
    case iq2_xs = 17
    case iq3_xxs = 18
    case iq1_s = 19
    case iq4_nl = 20
    case iq3_s = 21
    case iq2_s = 22
    case iq4_xs = 23
    case i8 = 24
    case i16 = 25
    case i32 = 26
    case i64 = 27
    case f64 = 28
    case iq1_m = 29
    case bf16 = 30
    case tq1_0 = 34
    case tq2_0 = 35

    /// The name GGML and llama.cpp print ("Q4_1", "F16").
    public var description: String {
        switch self {
        case .f32: "F32"
        case .f16: "F16"
        case .bf16: "BF16"
        case .f64: "F64"
        case .q4_0: "Q4_0"
        case .q4_1: "Q4_1"
        case .q5_0: "Q5_0"
        case .q5_1: "Q5_1"
        case .q8_0: "Q8_0"
        case .q8_1: "Q8_1"
        case .q2_K: "Q2_K"
        case .q3_K: "Q3_K"
        case .q4_K: "Q4_K"
        case .q5_K: "Q5_K"
        case .q6_K: "Q6_K"
        case .q8_K: "Q8_K"
        case .iq2_xxs: "IQ2_XXS"
        case .iq2_xs: "IQ2_XS"
        case .iq3_xxs: "IQ3_XXS"
        case .iq1_s: "IQ1_S"
        case .iq4_nl: "IQ4_NL"
        case .iq3_s: "IQ3_S"
        case .iq2_s: "IQ2_S"
        case .iq4_xs: "IQ4_XS"
        case .i8: "I8"
        case .i16: "I16"
        case .i32: "I32"
        case .i64: "I64"
        case .iq1_m: "IQ1_M"
        case .tq1_0: "TQ1_0"
        case .tq2_0: "TQ2_0"
        }
    }

    /// True when Colony's kernels can read this type.
    public var isSupported: Bool { ck_type_supported(Int32(rawValue)) != 0 }

    /// True when `Tensor.quantizing` can write this type (the K-quants are read only).
    public var isQuantizable: Bool { ck_quantizable(Int32(rawValue)) != 0 }

    /// Elements per quantisation block (1 for plain float types). Only for supported types.
    public var blockElements: Int { Int(ck_block_elements(Int32(rawValue))) }

    /// Bytes per block. Only for supported types.
    public var blockBytes: Int { Int(ck_block_bytes(Int32(rawValue))) }

    /// True for block-quantised types (their rows must be a multiple of `blockElements`).
    public var isQuantized: Bool { blockElements > 1 }

    /// Bytes taken by `elements` values of this type.
    public func byteCount(elements: Int) -> Int { elements / blockElements * blockBytes }
}
