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
        let acts = QuantizedActivations(capacity: t, k: k, split: true)
        x.withUnsafeBufferPointer { x in
            let a = acts.quantize(x.baseAddress!, rows: t)
            var job = ck_matmul_job(
                type: Int32(w.tensor.dtype.rawValue), w: w.tensor.data, packed: packed.data,
                n: Int64(w.rows), y: y, ldy: Int64(w.rows))
            ck_par_matmul(pool.raw, &job, 1, Int64(k), x.baseAddress!, a, Int64(t))
        }
    }
}
