#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Bytes that tensors point into: a memory-mapped file or an owned allocation.
///
/// Immutable after creation (mapped read-only or filled before it is shared), so it is
/// safe to read from any thread; that is why the `@unchecked Sendable` holds.
public final class TensorStorage: @unchecked Sendable {
    /// First byte of the region.
    public let base: UnsafeRawPointer
    /// Size of the region in bytes.
    public let byteCount: Int
    private let release: () -> Void
    /// True for a file mapping, whose pages can be dropped and re-read on demand.
    private let isMapped: Bool

    /// Maps `path` read-only. Pages are loaded on first touch, so opening a model is
    /// instant and only the tensors a run reads become resident.
    public static func mapFile(at path: String) throws(TensorError) -> TensorStorage {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw .cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        let size = Int(info.st_size)
        guard size > 0 else { return TensorStorage(copying: [UInt8]()) }
        guard let mapped = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), mapped != MAP_FAILED else {
            throw .cannotOpen(path: path, reason: "mmap failed: \(String(cString: strerror(errno)))")
        }
        return TensorStorage(base: UnsafeRawPointer(mapped), byteCount: size, isMapped: true) { munmap(mapped, size) }
    }

    /// A new 64-byte-aligned allocation of `byteCount` bytes that `fill` initialises.
    public convenience init(byteCount: Int, fill: (UnsafeMutableRawPointer) -> Void) {
        let memory = UnsafeMutableRawPointer.allocate(byteCount: max(byteCount, 1), alignment: 64)
        fill(memory)
        self.init(base: UnsafeRawPointer(memory), byteCount: byteCount, isMapped: false) { memory.deallocate() }
    }

    /// Tells the kernel that `count` bytes from `offset` will not be read soon: for a file
    /// mapping their pages leave resident memory (they are read again if touched later).
    /// Does nothing for owned memory.
    public func adviseUnused(offset: Int, count: Int) {
        guard isMapped else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = (offset + page - 1) / page * page
        let end = (offset + count) / page * page
        guard end > start else { return }
        madvise(UnsafeMutableRawPointer(mutating: base + start), end - start, MADV_DONTNEED)
    }

    /// Copies `bytes` into a new 64-byte-aligned allocation.
    public convenience init(copying bytes: [UInt8]) {
        self.init(byteCount: bytes.count) { memory in
            bytes.withUnsafeBytes { if let src = $0.baseAddress { memory.copyMemory(from: src, byteCount: bytes.count) } }
        }
    }

    private init(base: UnsafeRawPointer, byteCount: Int, isMapped: Bool, release: @escaping () -> Void) {
        self.base = base
        self.byteCount = byteCount
        self.isMapped = isMapped
        self.release = release
    }

    deinit { release() }
}
