/// Reads little-endian values from a byte region, throwing `truncated` instead of
/// reading past its end.
struct ByteCursor {
    let base: UnsafeRawPointer
    let count: Int
    var offset: Int

    mutating func read<T: FixedWidthInteger>(_: T.Type, _ what: @autoclosure () -> String) throws(GGUFError) -> T {
        try need(MemoryLayout<T>.size, what())
        let v = T(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: T.self))
        offset += MemoryLayout<T>.size
        return v
    }

    mutating func readString(_ what: @autoclosure () -> String) throws(GGUFError) -> String {
        let length = try read(UInt64.self, "length of \(what())")
        guard length <= UInt64(count - offset) else {
            throw .truncated(what: "\(what()) (\(length) bytes)", offset: offset, fileSize: count)
        }
        let s = String(decoding: UnsafeRawBufferPointer(start: base + offset, count: Int(length)), as: UTF8.self)
        offset += Int(length)
        return s
    }

    func need(_ bytes: Int, _ what: @autoclosure () -> String) throws(GGUFError) {
        guard bytes >= 0, offset <= count - bytes else {
            throw .truncated(what: what(), offset: offset, fileSize: count)
        }
    }
}
