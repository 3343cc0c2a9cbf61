import ColonyTensor

/// A GGUF file: its metadata and its tensors, whose data stay memory-mapped.
///
/// Layout (versions 2 and 3): magic "GGUF", u32 version, u64 tensor count, u64 metadata
/// count, the metadata entries, the tensor infos (name, dims, type, offset), padding to
/// `general.alignment` (default 32), then the tensor data.
///
/// ```swift
/// let file = try GGUFFile(contentsOf: "models/SmolLM2-135M-Instruct.Q4_1.gguf")
/// let layers = try file.int("llama.block_count")
/// ```
public struct GGUFFile: Sendable {
    public let version: UInt32
    /// Metadata keys in file order.
    public let keys: [String]
    public let metadata: [String: GGUFValue]
    /// Tensors in file order.
    public let tensors: [Tensor]
    public let alignment: Int
    /// Offset of the tensor data section.
    public let dataOffset: Int
    /// Total bytes of the file.
    public var fileSize: Int { storage.byteCount }
    let storage: TensorStorage
    private let index: [String: Int]

    /// Opens and parses a GGUF file; the tensor data is mapped, not read.
    public init(contentsOf path: String) throws(GGUFError) {
        let storage: TensorStorage
        do { storage = try TensorStorage.mapFile(at: path) } catch { throw GGUFError(error) }
        try self.init(storage: storage, path: path)
    }

    /// Parses GGUF bytes already in memory (used by tests and the writer's round trip).
    public init(storage: TensorStorage, path: String = "<memory>") throws(GGUFError) {
        self.storage = storage
        var c = ByteCursor(base: storage.base, count: storage.byteCount, offset: 0)
        let magic = (0..<min(4, storage.byteCount)).map { storage.base.load(fromByteOffset: $0, as: UInt8.self) }
        guard magic == Array("GGUF".utf8) else { throw .notGGUF(path: path, magic: magic) }
        c.offset = 4
        version = try c.read(UInt32.self, "version")
        guard version == 2 || version == 3 else { throw .unsupportedVersion(version) }
        let tensorCount = try c.read(UInt64.self, "tensor count")
        let kvCount = try c.read(UInt64.self, "metadata count")
        // Every entry takes at least 8 bytes: a count beyond that is a corrupt header.
        try c.need(Int(clamping: kvCount &* 8), "\(kvCount) metadata entries")

        var keys: [String] = []
        var metadata: [String: GGUFValue] = [:]
        for i in 0..<Int(kvCount) {
            let key = try c.readString("key of metadata entry \(i)")
            let rawType = try c.read(UInt32.self, "type of '\(key)'")
            let value = try Self.readValue(&c, rawType: rawType, key: key)
            guard metadata.updateValue(value, forKey: key) == nil else { throw .duplicateKey(key) }
            keys.append(key)
        }
        self.keys = keys
        self.metadata = metadata

        let alignment = metadata["general.alignment"]?.integer ?? 32
        guard alignment > 0, alignment % 8 == 0 else { throw .invalidAlignment(alignment) }
        self.alignment = alignment

        try c.need(Int(clamping: tensorCount &* 24), "\(tensorCount) tensor infos")
        var infos: [(name: String, shape: [Int], type: DType, offset: Int)] = []
        for i in 0..<Int(tensorCount) {
            let name = try c.readString("name of tensor \(i)")
            let dims = try c.read(UInt32.self, "dimension count of '\(name)'")
            guard dims >= 1, dims <= 4 else { throw .invalidTensor(name: name, reason: "has \(dims) dimensions; expected 1 to 4") }
            var shape: [Int] = []
            for d in 0..<Int(dims) {
                let n = try c.read(UInt64.self, "dimension \(d) of '\(name)'")
                guard n > 0, n < 1 << 40 else { throw .invalidTensor(name: name, reason: "dimension \(d) is \(n)") }
                shape.append(Int(n))
            }
            let rawType = try c.read(UInt32.self, "type of '\(name)'")
            guard let type = DType(rawValue: rawType) else { throw .unsupportedTensorType(rawType, tensor: name) }
            let offset = try c.read(UInt64.self, "offset of '\(name)'")
            guard offset % UInt64(alignment) == 0, offset < UInt64(Int.max / 2) else {
                throw .invalidTensor(name: name, reason: "data offset \(offset) is not a multiple of the alignment \(alignment)")
            }
            infos.append((name, shape, type, Int(offset)))
        }
        dataOffset = (c.offset + alignment - 1) / alignment * alignment

        var tensors: [Tensor] = []
        var index: [String: Int] = [:]
        for info in infos {
            guard index[info.name] == nil else { throw .invalidTensor(name: info.name, reason: "appears twice") }
            let tensor = Tensor(
                name: info.name, dtype: info.type, shape: info.shape, storage: storage,
                byteOffset: dataOffset + info.offset)
            if info.type.isSupported {
                if info.shape[0] % info.type.blockElements != 0 {
                    throw .invalidTensor(
                        name: info.name,
                        reason: "rows of \(info.shape[0]) are not a multiple of the \(info.type) block size \(info.type.blockElements)")
                }
                let end = tensor.byteOffset + tensor.byteCount
                guard end <= storage.byteCount else {
                    throw .truncated(
                        what: "data of tensor '\(info.name)' (\(tensor.byteCount) bytes)", offset: tensor.byteOffset,
                        fileSize: storage.byteCount)
                }
            }
            index[info.name] = tensors.count
            tensors.append(tensor)
        }
        self.tensors = tensors
        self.index = index
    }

    private static func readValue(_ c: inout ByteCursor, rawType: UInt32, key: String) throws(GGUFError) -> GGUFValue {
        guard let type = GGUFValueType(rawValue: rawType) else { throw .invalidValueType(rawType, key: key) }
        switch type {
        case .uint8: return .uint8(try c.read(UInt8.self, "value of '\(key)'"))
        case .int8: return .int8(try c.read(Int8.self, "value of '\(key)'"))
        case .uint16: return .uint16(try c.read(UInt16.self, "value of '\(key)'"))
        case .int16: return .int16(try c.read(Int16.self, "value of '\(key)'"))
        case .uint32: return .uint32(try c.read(UInt32.self, "value of '\(key)'"))
        case .int32: return .int32(try c.read(Int32.self, "value of '\(key)'"))
        case .float32: return .float32(Float(bitPattern: try c.read(UInt32.self, "value of '\(key)'")))
        case .bool: return .bool(try c.read(UInt8.self, "value of '\(key)'") != 0)
        case .string: return .string(try c.readString("value of '\(key)'"))
        case .uint64: return .uint64(try c.read(UInt64.self, "value of '\(key)'"))
        case .int64: return .int64(try c.read(Int64.self, "value of '\(key)'"))
        case .float64: return .float64(Double(bitPattern: try c.read(UInt64.self, "value of '\(key)'")))
        case .array:
            let rawElement = try c.read(UInt32.self, "element type of '\(key)'")
            guard let element = GGUFValueType(rawValue: rawElement) else { throw .invalidValueType(rawElement, key: key) }
            let n = try c.read(UInt64.self, "length of '\(key)'")
            try c.need(Int(clamping: n), "\(n) elements of '\(key)'")  // each element is ≥ 1 byte
            var items: [GGUFValue] = []
            items.reserveCapacity(Int(n))
            for _ in 0..<Int(n) { items.append(try readValue(&c, rawType: rawElement, key: key)) }
            return .array(element, items)
        }
    }

    // MARK: - Lookup

    /// The tensor called `name`, if present.
    public func tensor(_ name: String) -> Tensor? { index[name].map { tensors[$0] } }

    /// An integer metadata value; throws if missing or not an integer.
    public func int(_ key: String) throws(GGUFError) -> Int {
        guard let value = metadata[key] else { throw .missingMetadata(key: key) }
        guard let v = value.integer else { throw .wrongMetadataType(key: key, expected: "integer", found: value.type) }
        return v
    }

    /// A floating-point metadata value; throws if missing or not a number.
    public func double(_ key: String) throws(GGUFError) -> Double {
        guard let value = metadata[key] else { throw .missingMetadata(key: key) }
        guard let v = value.double else { throw .wrongMetadataType(key: key, expected: "number", found: value.type) }
        return v
    }

    /// A string metadata value; throws if missing or not a string.
    public func string(_ key: String) throws(GGUFError) -> String {
        guard let value = metadata[key] else { throw .missingMetadata(key: key) }
        guard let v = value.string else { throw .wrongMetadataType(key: key, expected: "string", found: value.type) }
        return v
    }

    /// An array metadata value; throws if missing or not an array.
    public func array(_ key: String) throws(GGUFError) -> [GGUFValue] {
        guard let value = metadata[key] else { throw .missingMetadata(key: key) }
        guard let v = value.array else { throw .wrongMetadataType(key: key, expected: "array", found: value.type) }
        return v
    }
}
