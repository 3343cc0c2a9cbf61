import ColonyKernels

/// A named, typed view of bytes in a `TensorStorage`.
///
/// Shapes are listed as GGUF lists them: `shape[0]` is the length of a row (the
/// contiguous dimension), so a weight matrix with `shape == [K, N]` has N rows of K values
/// and computes `y = W·x` for x of length K.
public struct Tensor: Sendable {
    public let name: String
    public let dtype: DType
    public let shape: [Int]
    public let storage: TensorStorage
    public let byteOffset: Int

    public init(name: String, dtype: DType, shape: [Int], storage: TensorStorage, byteOffset: Int) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.storage = storage
        self.byteOffset = byteOffset
    }

    /// Number of elements.
    public var elementCount: Int { shape.reduce(1, *) }
    /// Length of one row (`shape[0]`).
    public var rowLength: Int { shape.first ?? 1 }
    /// Number of rows (all dimensions but the first).
    public var rowCount: Int { elementCount / max(rowLength, 1) }
    /// Bytes of one row.
    public var rowBytes: Int { dtype.byteCount(elements: rowLength) }
    /// Bytes of the whole tensor.
    public var byteCount: Int { dtype.byteCount(elements: elementCount) }
    /// First byte of the data.
    public var data: UnsafeRawPointer { storage.base + byteOffset }

    /// Checks that the kernels can compute with this tensor.
    public func validateComputable() throws(TensorError) {
        guard dtype.isSupported else { throw .unsupportedType(dtype, tensor: name) }
        guard rowLength % dtype.blockElements == 0 else {
            throw .rowNotBlockAligned(tensor: name, rowLength: rowLength, type: dtype)
        }
    }

    /// Row `index` expanded to floats.
    public func row(_ index: Int) -> [Float] {
        precondition(index >= 0 && index < rowCount, "row \(index) out of 0..<\(rowCount) in \(name)")
        return [Float](unsafeUninitializedCapacity: rowLength) { buffer, count in
            ck_dequantize_row(Int32(dtype.rawValue), data + index * rowBytes, buffer.baseAddress, Int64(rowLength))
            count = rowLength
        }
    }

    /// The whole tensor expanded to floats, row after row.
    public func dequantized() -> [Float] {
        [Float](unsafeUninitializedCapacity: elementCount) { buffer, count in
            for r in 0..<rowCount {
                ck_dequantize_row(
                    Int32(dtype.rawValue), data + r * rowBytes,
                    buffer.baseAddress! + r * rowLength, Int64(rowLength))
            }
            count = elementCount
        }
    }

    /// Quantises `values` (row after row, rows of `shape[0]`) into a new owned tensor.
    public static func quantizing(_ values: [Float], name: String, shape: [Int], as dtype: DType) throws(TensorError) -> Tensor {
        let rowLength = shape.first ?? 1
        guard dtype.isSupported else { throw .unsupportedType(dtype, tensor: name) }
        guard dtype.isQuantizable else { throw .cannotQuantize(dtype, tensor: name) }
        guard rowLength % dtype.blockElements == 0 else {
            throw .rowNotBlockAligned(tensor: name, rowLength: rowLength, type: dtype)
        }
        let count = shape.reduce(1, *)
        guard values.count == count else { throw .shapeMismatch(tensor: name, expected: shape, found: [values.count]) }
        let rowBytes = dtype.byteCount(elements: rowLength)
        var bytes = [UInt8](repeating: 0, count: dtype.byteCount(elements: count))
        bytes.withUnsafeMutableBytes { out in
            values.withUnsafeBufferPointer { src in
                for r in 0..<(count / max(rowLength, 1)) {
                    ck_quantize_row(
                        Int32(dtype.rawValue), src.baseAddress! + r * rowLength,
                        out.baseAddress! + r * rowBytes, Int64(rowLength))
                }
            }
        }
        return Tensor(name: name, dtype: dtype, shape: shape, storage: TensorStorage(copying: bytes), byteOffset: 0)
    }
}

extension Tensor {
    /// Rows `first..<first + count` of a matrix, as a tensor over the same bytes.
    public func rows(_ first: Int, _ count: Int) -> Tensor {
        Tensor(
            name: "\(name)[\(first)..<\(first + count)]", dtype: dtype, shape: [rowLength, count], storage: storage,
            byteOffset: byteOffset + first * rowBytes)
    }

    /// Elements `first..<first + count` of every row, as a new owned tensor of the same
    /// type; nil when the range cuts through a quantised block (the caller dequantises).
    public func columns(_ first: Int, _ count: Int) -> Tensor? {
        let block = dtype.blockElements
        guard first % block == 0, count % block == 0, first + count <= rowLength else { return nil }
        let (skip, width) = (dtype.byteCount(elements: first), dtype.byteCount(elements: count))
        var bytes = [UInt8](repeating: 0, count: width * rowCount)
        bytes.withUnsafeMutableBytes { out in
            for r in 0..<rowCount { (out.baseAddress! + r * width).copyMemory(from: data + r * rowBytes + skip, byteCount: width) }
        }
        return Tensor(
            name: "\(name)[:, \(first)..<\(first + count)]", dtype: dtype, shape: [count, rowCount], storage: TensorStorage(copying: bytes),
            byteOffset: 0)
    }
}
