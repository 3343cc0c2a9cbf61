import ColonyKernels
import ColonyTensor

/// The inference engine's integer kernels, used for the forward products of frozen
/// quantized weights: the packed VNNI matmul with activations quantised per block of 32 to
/// 14 bits ("int16", near-exact; the backward pass stays in f32 BLAS).
///
/// Measured on SmolLM2-135M LoRA training: see `FrozenMatrix.packed`.
public final class PackedRuntime: @unchecked Sendable {
    let pool: ThreadPool

    public init(threads: Int) { pool = ThreadPool(threads: max(1, threads)) }

    /// `y[t×n] = x[t×k] · wᵀ` with `w` packed; `k` must be a multiple of 32.
    func matmul(_ x: [Float], rows t: Int, k: Int, weight w: FrozenMatrix, packed: PackedMatrix, into y: UnsafeMutablePointer<Float>) {
        let blocks = k / 32
        var high = [Int8](repeating: 0, count: t * k)
        var low = [Int8](repeating: 0, count: t * k)
        var scales = [Float](repeating: 0, count: t * blocks)
        var sums = [Float](repeating: 0, count: t * blocks)
        var blockSums = [Int32](repeating: 0, count: t * blocks)
        high.withUnsafeMutableBufferPointer { hi in
            low.withUnsafeMutableBufferPointer { lo in
                scales.withUnsafeMutableBufferPointer { d in
                    sums.withUnsafeMutableBufferPointer { s in
                        blockSums.withUnsafeMutableBufferPointer { isum in
                            x.withUnsafeBufferPointer { x in
                                let acts = (0..<t).map { r in
                                    ck_act(
                                        hi: hi.baseAddress! + r * k, lo: lo.baseAddress! + r * k, d: d.baseAddress! + r * blocks,
                                        s: s.baseAddress! + r * blocks, isum: isum.baseAddress! + r * blocks)
                                }
                                for r in 0..<t { ck_quantize_act(x.baseAddress! + r * k, Int64(k), acts[r]) }
                                var job = ck_matmul_job(
                                    type: Int32(w.tensor.dtype.rawValue), w: w.tensor.data, packed: packed.data,
                                    n: Int64(w.rows), y: y, ldy: Int64(w.rows))
                                acts.withUnsafeBufferPointer { a in
                                    ck_par_matmul(pool.raw, &job, 1, Int64(k), x.baseAddress!, a.baseAddress!, Int64(t))
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
