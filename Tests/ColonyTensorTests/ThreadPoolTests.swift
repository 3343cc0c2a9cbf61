import ColonyKernels
import ColonyTensor
import Testing

/// Marks every index a pool job visits; the context is a plain C-compatible counter array.
private let markRange: ck_range_fn = { ctx, begin, end in
    let counts = ctx!.assumingMemoryBound(to: Int32.self)
    for i in Int(begin)..<Int(end) { counts[i] += 1 }
}

@Suite("Thread pool")
struct ThreadPoolTests {
    @Test("every index is visited exactly once", arguments: [1, 2, 3, 4])
    func coversRange(threads: Int) {
        let pool = ThreadPool(threads: threads)
        for (n, grain) in [(0, 1), (1, 1), (7, 1), (100, 16), (1000, 3), (4096, 64)] {
            var counts = [Int32](repeating: 0, count: max(n, 1))
            for _ in 0..<50 {  // many back-to-back jobs: spinning and sleeping workers alike
                counts.withUnsafeMutableBufferPointer { ck_pool_for(pool.raw, Int64(n), Int64(grain), markRange, $0.baseAddress) }
            }
            #expect(counts.prefix(n).allSatisfy { $0 == 50 }, "n=\(n) grain=\(grain)")
        }
    }

    @Test("parallel sum equals the serial sum")
    func parallelSum() {
        let pool = ThreadPool(threads: 2)
        let buffer = FloatBuffer(count: 100_003)
        for i in 0..<buffer.count { buffer[i] = Float(i % 7) }
        let serial = (0..<buffer.count).reduce(Float(0)) { $0 + Float($1 % 7) }
        #expect(ck_par_sum(pool.raw, buffer.pointer, Int64(buffer.count)) == serial)
    }
}
