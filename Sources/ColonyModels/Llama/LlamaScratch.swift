import ColonyKernels
import ColonyTensor

/// Activation buffers for batches of up to `capacity` tokens, reused across steps.
final class LlamaScratch {
    let capacity: Int
    let x, normed, query, key, value, attention, projection, gate, up: FloatBuffer
    let cosTable, sinTable: FloatBuffer

    init(config c: LlamaConfiguration, capacity: Int) {
        self.capacity = capacity
        let qDim = c.queryDimension
        x = FloatBuffer(uninitializedCount: capacity * c.embeddingLength)
        normed = FloatBuffer(uninitializedCount: capacity * c.embeddingLength)
        query = FloatBuffer(uninitializedCount: capacity * qDim)
        key = FloatBuffer(uninitializedCount: capacity * c.kvDimension)
        value = FloatBuffer(uninitializedCount: capacity * c.kvDimension)
        attention = FloatBuffer(uninitializedCount: capacity * qDim)
        projection = FloatBuffer(uninitializedCount: capacity * c.embeddingLength)
        gate = FloatBuffer(uninitializedCount: capacity * c.feedForwardLength)
        up = FloatBuffer(uninitializedCount: capacity * c.feedForwardLength)
        // Two kinds of rotation at most: global and sliding-window layers.
        cosTable = FloatBuffer(uninitializedCount: 2 * capacity * c.ropeDimensions / 2)
        sinTable = FloatBuffer(uninitializedCount: 2 * capacity * c.ropeDimensions / 2)
    }

    /// Integer activations per row length and form, made once: decode quantises four
    /// times per layer and should not allocate each time.
    private var activations: [Int: QuantizedActivations] = [:]

    /// Quantises `count` rows of `k` floats at `source` and returns their descriptors
    /// (valid until the next call with the same `k` and `split`); `split` selects the
    /// 14-bit form (int16 precision).
    func quantize(_ source: UnsafeMutablePointer<Float>, rows count: Int, k: Int, split: Bool) -> UnsafePointer<ck_act> {
        let key = k * 2 + (split ? 1 : 0)
        let acts = activations[key] ?? QuantizedActivations(capacity: capacity, k: k, split: split)
        activations[key] = acts
        return acts.quantize(source, rows: count)
    }
}
