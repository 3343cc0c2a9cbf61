import ColonyKernels
import ColonyTensor
import Foundation

/// The differentiable operations of a Llama forward pass. Each returns a new variable and,
/// when an input needs gradients, records how to send the output's gradient back.
///
/// Matrix products go to BLAS; the element-wise loops live in `TrainKernels.swift`.
extension Tape {
    /// `x[M×K] · wᵀ` for a weight `w[N×K]` (a row per output feature, as GGUF stores them).
    public func linear(_ x: Variable, _ w: Variable) -> Variable {
        precondition(x.cols == w.cols, "linear: x has \(x.cols) columns, weight expects \(w.cols)")
        let m = x.rows
        let k = x.cols
        let n = w.rows
        let out = Variable(zeros: m, n, requiresGrad: x.requiresGrad || w.requiresGrad)
        sgemm(transB: true, m: m, n: n, k: k, a: x.value, lda: k, b: w.value, ldb: k, c: &out.value, ldc: n)
        guard out.requiresGrad else { return out }
        record {
            guard !out.grad.isEmpty else { return }
            if x.requiresGrad {
                x.ensureGrad()
                sgemm(m: m, n: k, k: n, a: out.grad, lda: n, b: w.value, ldb: k, beta: 1, c: &x.grad, ldc: k)
            }
            if w.requiresGrad {
                w.ensureGrad()
                sgemm(transA: true, m: n, n: k, k: m, a: out.grad, lda: n, b: x.value, ldb: k, beta: 1, c: &w.grad, ldc: k)
            }
        }
        return out
    }

    /// `x · wᵀ` for a frozen weight kept in its GGUF form (quantized or not). The weight
    /// is expanded to floats a slice of rows at a time for each product and dropped again,
    /// so a quantized base model stays quantized in memory (QLoRA-style) and no step
    /// allocates (and page-faults in) a whole expanded matrix.
    public func linear(_ x: Variable, frozen w: FrozenMatrix) -> Variable {
        precondition(x.cols == w.cols, "linear: x has \(x.cols) columns, \(w.tensor.name) expects \(w.cols)")
        let m = x.rows
        let k = x.cols
        let n = w.rows
        let out = Variable(zeros: m, n, requiresGrad: x.requiresGrad)
        out.value.withUnsafeMutableBufferPointer { y in
            if let packed = w.packed, let runtime = w.runtime {
                runtime.matmul(x.value, rows: m, k: k, weight: w, packed: packed, into: y.baseAddress!)
            } else {
                w.forEachSlice { first, count, slice in
                    sgemm(transB: true, m: m, n: count, k: k, a: x.value, lda: k, b: slice, ldb: k, c: y.baseAddress! + first, ldc: n)
                }
            }
        }
        guard out.requiresGrad else { return out }
        record {
            guard !out.grad.isEmpty else { return }
            x.ensureGrad()
            out.grad.withUnsafeBufferPointer { dy in
                w.forEachSlice { first, count, slice in
                    sgemm(m: m, n: k, k: count, a: dy.baseAddress! + first, lda: n, b: slice, ldb: k, beta: 1, c: &x.grad, ldc: k)
                }
            }
        }
        return out
    }

    /// Element-wise `a + b` (same shapes).
    public func add(_ a: Variable, _ b: Variable) -> Variable {
        precondition(a.rows == b.rows && a.cols == b.cols, "add: \(a.rows)×\(a.cols) and \(b.rows)×\(b.cols)")
        let out = Variable(rows: a.rows, cols: a.cols, value: a.value, requiresGrad: a.requiresGrad || b.requiresGrad)
        Kernels.add(&out.value, b.value)
        guard out.requiresGrad else { return out }
        record {
            guard !out.grad.isEmpty else { return }
            for input in [a, b] where input.requiresGrad {
                input.ensureGrad()
                Kernels.add(&input.grad, out.grad)
            }
        }
        return out
    }

    /// Element-wise `a ⊙ b` (same shapes).
    public func mul(_ a: Variable, _ b: Variable) -> Variable {
        precondition(a.rows == b.rows && a.cols == b.cols, "mul: \(a.rows)×\(a.cols) and \(b.rows)×\(b.cols)")
        let out = Variable(rows: a.rows, cols: a.cols, value: a.value, requiresGrad: a.requiresGrad || b.requiresGrad)
        Kernels.mul(&out.value, b.value)
        guard out.requiresGrad else { return out }
        record {
            guard !out.grad.isEmpty else { return }
            if a.requiresGrad {
                a.ensureGrad()
                Kernels.addProduct(&a.grad, out.grad, b.value)
            }
            if b.requiresGrad {
                b.ensureGrad()
                Kernels.addProduct(&b.grad, out.grad, a.value)
            }
        }
        return out
    }

    /// `s · x` for a constant `s`.
    public func scale(_ x: Variable, _ s: Float) -> Variable {
        let out = Variable(rows: x.rows, cols: x.cols, value: x.value, requiresGrad: x.requiresGrad)
        Kernels.scale(&out.value, s)
        guard out.requiresGrad else { return out }
        record {
            guard !out.grad.isEmpty else { return }
            x.ensureGrad()
            Kernels.addScaled(&x.grad, out.grad, s)
        }
        return out
    }

    /// Rows `ids` of a trainable `table[V×D]`.
    public func embedding(_ ids: [Int32], _ table: Variable) -> Variable {
        let d = table.cols
        let out = Variable(zeros: ids.count, d, requiresGrad: table.requiresGrad)
        for (t, id) in ids.enumerated() {
            precondition(id >= 0 && Int(id) < table.rows, "embedding: token \(id) outside 0..<\(table.rows)")
            out.value.replaceSubrange(t * d..<(t + 1) * d, with: table.value[Int(id) * d..<(Int(id) + 1) * d])
        }
        guard out.requiresGrad else { return out }
        record {
            guard !out.grad.isEmpty else { return }
            table.ensureGrad()
            for (t, id) in ids.enumerated() {
                for j in 0..<d { table.grad[Int(id) * d + j] += out.grad[t * d + j] }
            }
        }
        return out
    }

    /// Rows `ids` of a frozen table (no gradient flows into it).
    public func embedding(_ ids: [Int32], frozen table: FrozenMatrix) -> Variable {
        let d = table.cols
        var value = [Float](repeating: 0, count: ids.count * d)
        for (t, id) in ids.enumerated() {
            precondition(id >= 0 && Int(id) < table.rows, "embedding: token \(id) outside 0..<\(table.rows)")
            value.replaceSubrange(t * d..<(t + 1) * d, with: table.tensor.row(Int(id)))
        }
        return Variable(rows: ids.count, cols: d, value: value)
    }

    /// RMSNorm of each row, times `weight[1×D]`.
    public func rmsNorm(_ x: Variable, _ weight: Variable, epsilon: Float) -> Variable {
        precondition(weight.count == x.cols, "rmsNorm: weight has \(weight.count) values for \(x.cols) columns")
        let out = Variable(zeros: x.rows, x.cols, requiresGrad: x.requiresGrad || weight.requiresGrad)
        var inverseRMS = [Float](repeating: 0, count: x.rows)
        Kernels.rmsNormForward(x.value, weight.value, &out.value, &inverseRMS, rows: x.rows, cols: x.cols, epsilon: epsilon)
        guard out.requiresGrad else { return out }
        record {
            guard !out.grad.isEmpty else { return }
            // Local buffers, then accumulate: the kernel never holds two variables' storage at once.
            var dx = [Float](repeating: 0, count: x.requiresGrad ? x.count : 0)
            var dw = [Float](repeating: 0, count: weight.requiresGrad ? weight.count : 0)
            Kernels.rmsNormBackward(x.value, weight.value, inverseRMS, out.grad, rows: x.rows, cols: x.cols, dx: &dx, dw: &dw)
            for (input, g) in [(x, dx), (weight, dw)] where input.requiresGrad {
                input.ensureGrad()
                Kernels.add(&input.grad, g)
            }
        }
        return out
    }

    /// Rotary position embedding of each head's first `table.dimensions` values, pairs
    /// (2i, 2i+1) rotated by `position · frequency_i` (llama.cpp's layout for Llama GGUFs).
    public func rope(_ x: Variable, heads: Int, table: RopeTable) -> Variable {
        precondition(x.rows == table.rows, "rope: \(x.rows) rows, table for \(table.rows)")
        let out = Variable(rows: x.rows, cols: x.cols, value: x.value, requiresGrad: x.requiresGrad)
        Kernels.rope(&out.value, heads: heads, table: table, inverse: false)
        guard out.requiresGrad else { return out }
        record {
            guard !out.grad.isEmpty else { return }
            x.ensureGrad()
            var g = out.grad
            Kernels.rope(&g, heads: heads, table: table, inverse: true)  // a rotation's adjoint is its inverse
            Kernels.add(&x.grad, g)
        }
        return out
    }

    /// `silu(gate) ⊙ up`, the Llama feed-forward gate.
    public func swiglu(_ gate: Variable, _ up: Variable) -> Variable {
        precondition(gate.rows == up.rows && gate.cols == up.cols, "swiglu: shapes differ")
        let out = Variable(zeros: gate.rows, gate.cols, requiresGrad: gate.requiresGrad || up.requiresGrad)
        Kernels.swigluForward(gate.value, up.value, &out.value)
        guard out.requiresGrad else { return out }
        record {
            guard !out.grad.isEmpty else { return }
            var dGate = [Float](repeating: 0, count: gate.requiresGrad ? gate.count : 0)
            var dUp = [Float](repeating: 0, count: up.requiresGrad ? up.count : 0)
            Kernels.swigluBackward(gate.value, up.value, out.grad, dGate: &dGate, dUp: &dUp)
            for (input, g) in [(gate, dGate), (up, dUp)] where input.requiresGrad {
                input.ensureGrad()
                Kernels.add(&input.grad, g)
            }
        }
        return out
    }

    /// Causal self-attention with grouped query heads over `sequences` of `length` rows each
    /// (q: rows × heads·d, k and v: rows × kvHeads·d). `segmentStart[t]` is the first
    /// position token `t` may attend to within its sequence (packed documents do not see
    /// each other); pass 0 everywhere for plain causal attention.
    public func attention(q: Variable, k: Variable, v: Variable, heads: Int, kvHeads: Int, length: Int, segmentStart: [Int32]) -> Variable {
        let d = q.cols / heads
        precondition(q.rows % length == 0 && k.rows == q.rows && v.rows == q.rows, "attention: rows must be sequences × length")
        precondition(k.cols == kvHeads * d && v.cols == kvHeads * d && heads % kvHeads == 0, "attention: head shapes do not match")
        precondition(segmentStart.count == q.rows, "attention: one segment start per row")
        let shape = AttentionShape(sequences: q.rows / length, length: length, heads: heads, kvHeads: kvHeads, headDim: d)
        let out = Variable(zeros: q.rows, q.cols, requiresGrad: q.requiresGrad || k.requiresGrad || v.requiresGrad)
        var probabilities = [Float](repeating: 0, count: shape.sequences * heads * length * length)
        Kernels.attentionForward(q.value, k.value, v.value, &out.value, &probabilities, shape: shape, segmentStart: segmentStart)
        guard out.requiresGrad else { return out }
        record {
            guard !out.grad.isEmpty else { return }
            var dq = [Float](repeating: 0, count: q.count)
            var dk = [Float](repeating: 0, count: k.count)
            var dv = [Float](repeating: 0, count: v.count)
            Kernels.attentionBackward(
                q.value, k.value, v.value, out.value, out.grad, probabilities, shape: shape, dq: &dq, dk: &dk, dv: &dv)
            for (input, g) in [(q, dq), (k, dk), (v, dv)] where input.requiresGrad {
                input.ensureGrad()
                Kernels.add(&input.grad, g)
            }
        }
        return out
    }

    /// Mean cross-entropy of `logits[T×V]` against `targets` (−1 = ignored), a 1×1 variable.
    /// With no target at all the loss is 0 and no gradient flows.
    public func crossEntropy(_ logits: Variable, targets: [Int32]) -> Variable {
        precondition(targets.count == logits.rows, "crossEntropy: \(targets.count) targets for \(logits.rows) rows")
        // Forward keeps one log-sum-exp per row; backward writes softmax − onehot straight
        // into the logits' gradient (a T×V buffer fewer than storing it here).
        var logSumExp = [Float](repeating: 0, count: logits.rows)
        let (sum, counted) = Kernels.crossEntropyForward(logits.value, targets: targets, vocabulary: logits.cols, logSumExp: &logSumExp)
        let out = Variable(
            rows: 1, cols: 1, value: [counted > 0 ? sum / Float(counted) : 0], requiresGrad: logits.requiresGrad && counted > 0)
        guard out.requiresGrad else { return out }
        record {
            guard !out.grad.isEmpty else { return }
            logits.ensureGrad()
            Kernels.crossEntropyBackward(
                logits.value, targets: targets, vocabulary: logits.cols, logSumExp: logSumExp,
                scale: out.grad[0] / Float(counted), into: &logits.grad)
        }
        return out
    }

    /// `Σ x ⊙ weights` as a 1×1 variable: a linear probe (gradient checks use it).
    public func weightedSum(_ x: Variable, _ weights: [Float]) -> Variable {
        precondition(weights.count == x.count, "weightedSum: \(weights.count) weights for \(x.count) values")
        var total: Double = 0
        for i in 0..<x.count { total += Double(x.value[i] * weights[i]) }
        let out = Variable(rows: 1, cols: 1, value: [Float(total)], requiresGrad: x.requiresGrad)
        guard out.requiresGrad else { return out }
        record {
            guard !out.grad.isEmpty else { return }
            x.ensureGrad()
            Kernels.addScaled(&x.grad, weights, out.grad[0])
        }
        return out
    }
}

/// A weight that is not trained, in its GGUF form: `rows` output features of `cols` inputs.
public struct FrozenMatrix: @unchecked Sendable {
    public let tensor: Tensor
    /// With a runtime, quantized weights are also packed for the integer kernels, and
    /// forward products use them (backward products always use f32 BLAS).
    let packed: PackedMatrix?
    let runtime: PackedRuntime?
    public var rows: Int { tensor.rowCount }
    public var cols: Int { tensor.rowLength }

    public init(_ tensor: Tensor, runtime: PackedRuntime? = nil) {
        self.tensor = tensor
        let packed = runtime == nil || tensor.rowLength % 32 != 0 ? nil : PackedMatrix(tensor)
        self.packed = packed
        self.runtime = packed == nil ? nil : runtime
    }

    /// The matrix expanded to floats, row after row.
    public func floats() -> [Float] { tensor.dequantized() }

    /// Rows expanded per slice: about 4 MiB of floats, small enough to stay in malloc's
    /// reuse pool and in cache while a product runs over it.
    static let sliceValues = 1 << 20

    /// Calls `body(firstRow, rowCount, values)` for consecutive slices of rows expanded to floats.
    func forEachSlice(_ body: (Int, Int, UnsafePointer<Float>) -> Void) {
        let rowsPerSlice = max(1, Self.sliceValues / max(cols, 1))
        var buffer = [Float](repeating: 0, count: min(rows, rowsPerSlice) * cols)
        buffer.withUnsafeMutableBufferPointer { b in
            var first = 0
            while first < rows {
                let count = min(rowsPerSlice, rows - first)
                for r in 0..<count {
                    ck_dequantize_row(
                        Int32(tensor.dtype.rawValue), tensor.data + (first + r) * tensor.rowBytes,
                        b.baseAddress! + r * cols, Int64(cols))
                }
                body(first, count, b.baseAddress!)
                first += count
            }
        }
    }
}

/// cos and sin of every (row, frequency) pair for rotary embeddings.
public struct RopeTable {
    public let rows: Int
    /// Values of each head that rotate (pairs), ≤ the head dimension.
    public let dimensions: Int
    public let headDimension: Int
    var cos: [Float]
    var sin: [Float]

    /// Angles `position / scale · base^(−2i/dimensions)`, computed in Double like the inference model.
    public init(positions: [Int], headDimension: Int, dimensions: Int, base: Float, scale: Float) {
        rows = positions.count
        self.dimensions = dimensions
        self.headDimension = headDimension
        let half = dimensions / 2
        let frequencies = (0..<half).map { i in Foundation.pow(Double(base), -2.0 * Double(i) / Double(dimensions)) }
        cos = []
        sin = []
        cos.reserveCapacity(rows * half)
        sin.reserveCapacity(rows * half)
        for p in positions {
            let position = Double(p) / Double(scale)
            for f in frequencies {
                cos.append(Float(Foundation.cos(position * f)))
                sin.append(Float(Foundation.sin(position * f)))
            }
        }
    }
}

/// Sizes of one attention call.
struct AttentionShape {
    let sequences: Int
    let length: Int
    let heads: Int
    let kvHeads: Int
    let headDim: Int
}
