/// A fixed-size, 64-byte-aligned buffer of floats for activations and caches.
///
/// A class so that a buffer can be handed to kernels by pointer without copies; it is
/// not Sendable: each model runner owns its buffers.
public final class FloatBuffer {
    public let pointer: UnsafeMutablePointer<Float>
    public let count: Int

    /// Allocates `count` floats set to zero.
    public convenience init(count: Int) {
        self.init(uninitializedCount: count)
        pointer.initialize(repeating: 0, count: max(count, 1))
    }

    /// Allocates `count` floats without touching them: large buffers (a KV cache) then
    /// cost resident memory only for the pages that get written. Write before you read.
    public init(uninitializedCount count: Int) {
        self.count = count
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 4, alignment: 64)
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
    }

    deinit { pointer.deallocate() }

    public subscript(index: Int) -> Float {
        get { pointer[index] }
        set { pointer[index] = newValue }
    }

    /// Copies `range` out as an array.
    public func array(_ range: Range<Int>) -> [Float] { Array(UnsafeBufferPointer(start: pointer + range.lowerBound, count: range.count)) }
}
