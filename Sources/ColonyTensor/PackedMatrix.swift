import ColonyKernels

/// A quantised weight matrix rewritten into the 16-row interleaved layout of the integer
/// kernels (`ck_pack`): same size as the GGUF form, read with one VNNI instruction per
/// 16 rows × 4 columns.
public struct PackedMatrix: Sendable {
    public let dtype: DType
    public let rows: Int
    public let columns: Int
    public let storage: TensorStorage

    public var data: UnsafeRawPointer { storage.base }

    /// Packs `tensor`, or returns nil when its type or row count has no packed form
    /// (only Q4_0, Q4_1 and Q8_0 with a multiple of 16 rows do).
    ///
    /// The source pages of a memory-mapped tensor are released afterwards, so a model's
    /// resident memory holds the packed copy only.
    public init?(_ tensor: Tensor) {
        let type = Int32(tensor.dtype.rawValue)
        guard tensor.shape.count == 2, ck_packable(type, Int64(tensor.rowCount)) != 0 else { return nil }
        dtype = tensor.dtype
        rows = tensor.rowCount
        columns = tensor.rowLength
        let bytes = Int(ck_packed_bytes(type, Int64(rows), Int64(columns)))
        storage = TensorStorage(byteCount: bytes) { ck_pack(type, tensor.data, $0, Int64(tensor.rowCount), Int64(tensor.rowLength)) }
        tensor.storage.adviseUnused(offset: tensor.byteOffset, count: tensor.byteCount)
    }
}
