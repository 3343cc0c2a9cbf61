import ColonyKernels
import Foundation

/// Measures how fast this machine reads memory: the ceiling of memory-bound work such as
/// decoding, where every weight is read once per token.
public enum MemoryBandwidth {
    /// Best read bandwidth in bytes per second over `repeats` passes over `bytes` bytes,
    /// split over the pool's threads. The buffer is far larger than the caches.
    public static func measureRead(pool: ThreadPool, bytes: Int = 512 << 20, repeats: Int = 5) -> Double {
        let buffer = FloatBuffer(count: bytes / 4)  // zero-filled: every page is resident
        for i in stride(from: 0, to: buffer.count, by: 1024) { buffer[i] = 1 }
        var best = Double.infinity
        var sink: Float = 0
        for _ in 0..<repeats {
            let start = DispatchTime.now().uptimeNanoseconds
            sink += ck_par_sum(pool.raw, buffer.pointer, Int64(buffer.count))
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        precondition(sink > 0, "the bandwidth probe read nothing")
        return Double(bytes) / best
    }
}
