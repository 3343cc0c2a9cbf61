import ColonyKernels
import ColonyTensor

/// Activation buffers for batches of up to `capacity` tokens, reused across steps.
final class LlamaScratch {
    let capacity: Int
    let x, normed, query, key, value, attention, projection, gate, up: FloatBuffer
    let cosTable, sinTable: FloatBuffer
    /// Integer activations: high and low parts, per-block scales and sums (see `ck_act`).
    let high, low: UnsafeMutablePointer<Int8>
    let blockSums: UnsafeMutablePointer<Int32>
    let scales, sums: FloatBuffer
    let widest: Int

    init(config c: LlamaConfiguration, capacity: Int) {
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
        high = .allocate(capacity: capacity * widest)
        low = .allocate(capacity: capacity * widest)
        blockSums = .allocate(capacity: capacity * widest / 32 + 1)
        scales = FloatBuffer(uninitializedCount: capacity * widest / 32 + 1)
        sums = FloatBuffer(uninitializedCount: capacity * widest / 32 + 1)
    }

    deinit {
        for d in descriptors.values { d.deallocate() }
        high.deallocate()
        low.deallocate()
        blockSums.deallocate()
    }

    /// Descriptors of `capacity` quantised rows of each row length and form, built once:
    /// decode quantises four times per layer and should not allocate each time.
    private var descriptors: [Int: UnsafeMutablePointer<ck_act>] = [:]

    /// Quantises `count` rows of `k` floats at `source` and returns their descriptors
    /// (valid until the next call); `split` selects the 14-bit form (int16 precision).
    func quantize(_ source: UnsafeMutablePointer<Float>, rows count: Int, k: Int, split: Bool) -> UnsafePointer<ck_act> {
        let key = k * 2 + (split ? 1 : 0)
        let acts =
            descriptors[key]
            ?? {
                let acts = UnsafeMutablePointer<ck_act>.allocate(capacity: capacity)
                for t in 0..<capacity {
                    let blocks = t * (k / 32)
                    acts[t] = ck_act(
                        hi: high + t * k, lo: split ? low + t * k : nil, d: scales.pointer + blocks,
                        s: sums.pointer + blocks, isum: blockSums + blocks)
                }
                descriptors[key] = acts
                return acts
            }()
        for t in 0..<count { ck_quantize_act(source + t * k, Int64(k), acts[t]) }
        return UnsafePointer(acts)
    }
}
