import ColonyTensor

#if canImport(Glibc)
    import Glibc
#endif

/// Builds a GGUF file (version 3) from metadata and tensors.
///
/// ```swift
/// var writer = GGUFWriter()
/// writer.set("general.architecture", .string("llama"))
/// writer.add(try Tensor.quantizing(values, name: "token_embd.weight", shape: [64, 320], as: .q8_0))
/// try writer.write(to: "tiny.gguf")
/// ```
public struct GGUFWriter {
    public private(set) var entries: [(key: String, value: GGUFValue)] = []
    public private(set) var tensors: [Tensor] = []
    public var alignment = 32

    public init() {}

    /// Sets a metadata entry, replacing an earlier one with the same key in place.
    public mutating func set(_ key: String, _ value: GGUFValue) {
        if let i = entries.firstIndex(where: { $0.key == key }) { entries[i].value = value } else { entries.append((key, value)) }
        if key == "general.alignment", let a = value.integer { alignment = a }
    }

    /// Appends a tensor; its bytes are copied when the file is serialised.
    public mutating func add(_ tensor: Tensor) { tensors.append(tensor) }

    /// The whole file as bytes.
    public func serialized() -> [UInt8] {
        var out: [UInt8] = []
        func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        func putString(_ s: String) {
            put(UInt64(s.utf8.count))
            out.append(contentsOf: s.utf8)
        }
        func putValue(_ v: GGUFValue) {
            switch v {
            case .uint8(let x): put(x)
            case .int8(let x): put(x)
            case .uint16(let x): put(x)
            case .int16(let x): put(x)
            case .uint32(let x): put(x)
            case .int32(let x): put(x)
            case .float32(let x): put(x.bitPattern)
            case .bool(let x): put(UInt8(x ? 1 : 0))
            case .string(let s): putString(s)
            case .uint64(let x): put(x)
            case .int64(let x): put(x)
            case .float64(let x): put(x.bitPattern)
            case .array(let type, let items):
                put(type.rawValue)
                put(UInt64(items.count))
                items.forEach(putValue)
            }
        }
        out.append(contentsOf: Array("GGUF".utf8))
        put(UInt32(3))
        put(UInt64(tensors.count))
        put(UInt64(entries.count))
        for (key, value) in entries {
            putString(key)
            put(value.type.rawValue)
            putValue(value)
        }
        var offsets: [Int] = []
        var offset = 0
        for t in tensors {
            offsets.append(offset)
            offset = (offset + t.byteCount + alignment - 1) / alignment * alignment
        }
        for (t, o) in zip(tensors, offsets) {
            putString(t.name)
            put(UInt32(t.shape.count))
            for n in t.shape { put(UInt64(n)) }
            put(t.dtype.rawValue)
            put(UInt64(o))
        }
        func pad() { while out.count % alignment != 0 { out.append(0) } }
        pad()
        for t in tensors {
            out.append(contentsOf: UnsafeRawBufferPointer(start: t.data, count: t.byteCount))
            pad()
        }
        return out
    }

    /// Writes the file atomically (temporary file, then rename).
    public func write(to path: String) throws(GGUFError) {
        let bytes = serialized()
        let temp = path + ".tmp"
        guard let f = fopen(temp, "wb") else { throw .cannotOpen(path: temp, reason: String(cString: strerror(errno))) }
        let written = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, bytes.count, f) }
        let closed = fclose(f)
        guard written == bytes.count, closed == 0, rename(temp, path) == 0 else {
            unlink(temp)
            throw .cannotOpen(path: path, reason: "write failed: \(String(cString: strerror(errno)))")
        }
    }
}
