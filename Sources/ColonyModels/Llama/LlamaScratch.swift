import ColonyKernels
import ColonyTensor

/// Activation buffers for batches of up to `capacity` tokens, reused across steps.
final class LlamaScratch {
    let capacity: Int
    let x, normed, query, key, value, attention, projection, gate, up: FloatBuffer
    let cosTable, sinTable: FloatBuffer
    /// int8 activations and their per-block scales and sums (see `ck_q8act`).
    let quantized: UnsafeMutablePointer<Int8>
    let scales, sums: FloatBuffer
    let widest: Int

    init(config c: LlamaConfig, capacity: Int) {
        self.capacity = capacity
        let qDim = c.headCount * c.headDimension
        widest = max(c.embeddingLength, c.feedForwardLength, qDim)
        x = FloatBuffer(uninitializedCount: capacity * c.embeddingLength)
        normed = FloatBuffer(uninitializedCount: capacity * c.embeddingLength)
        query = FloatBuffer(uninitializedCount: capacity * qDim)
        key = FloatBuffer(uninitializedCount: capacity * c.kvDimension)
        value = FloatBuffer(uninitializedCount: capacity * c.kvDimension)
        attention = FloatBuffer(uninitializedCount: capacity * qDim)
        projection = FloatBuffer(uninitializedCount: capacity * c.embeddingLength)
        gate = FloatBuffer(uninitializedCount: capacity * c.feedForwardLength)
        up = FloatBuffer(uninitializedCount: capacity * c.feedForwardLength)
        cosTable = FloatBuffer(uninitializedCount: capacity * c.ropeDimensions / 2)
        sinTable = FloatBuffer(uninitializedCount: capacity * c.ropeDimensions / 2)
        quantized = .allocate(capacity: capacity * widest)
        scales = FloatBuffer(uninitializedCount: capacity * widest / 32 + 1)
        sums = FloatBuffer(uninitializedCount: capacity * widest / 32 + 1)
    }

    deinit { quantized.deallocate() }

    /// Quantises `count` rows of `k` floats at `source` and returns their descriptors.
    func quantize(_ source: UnsafeMutablePointer<Float>, rows count: Int, k: Int) -> [ck_q8act] {
        (0..<count).map { t in
            let act = ck_q8act(q: quantized + t * k, d: scales.pointer + t * (k / 32), s: sums.pointer + t * (k / 32))
            ck_quantize_act(source + t * k, Int64(k), act)
            return act
        }
    }
}
