import Foundation

/// The element-wise inner loops of training, forward and backward, over flat buffers.
/// Kept apart from the tape logic; `-Ounchecked` lets these vectorise.
enum Kernels {
    static func add(_ x: inout [Float], _ y: [Float]) {
        let n = x.count
        x.withUnsafeMutableBufferPointer { x in
            y.withUnsafeBufferPointer { y in
                for i in 0..<n { x[i] += y[i] }
            }
        }
    }

    static func mul(_ x: inout [Float], _ y: [Float]) {
        let n = x.count
        x.withUnsafeMutableBufferPointer { x in
            y.withUnsafeBufferPointer { y in
                for i in 0..<n { x[i] *= y[i] }
            }
        }
    }

    static func scale(_ x: inout [Float], _ s: Float) {
        let n = x.count
        x.withUnsafeMutableBufferPointer { x in for i in 0..<n { x[i] *= s } }
    }

    /// `x += y ⊙ z`
    static func addProduct(_ x: inout [Float], _ y: [Float], _ z: [Float]) {
        let n = x.count
        x.withUnsafeMutableBufferPointer { x in
            y.withUnsafeBufferPointer { y in
                z.withUnsafeBufferPointer { z in
                    for i in 0..<n { x[i] += y[i] * z[i] }
                }
            }
        }
    }

    /// `x += s · y`
    static func addScaled(_ x: inout [Float], _ y: [Float], _ s: Float) {
        let n = x.count
        x.withUnsafeMutableBufferPointer { x in
            y.withUnsafeBufferPointer { y in
                for i in 0..<n { x[i] += s * y[i] }
            }
        }
    }

    static func rmsNormForward(
        _ x: [Float], _ w: [Float], _ out: inout [Float], _ inverseRMS: inout [Float], rows: Int, cols: Int, epsilon: Float
    ) {
        x.withUnsafeBufferPointer { x in
            w.withUnsafeBufferPointer { w in
                out.withUnsafeMutableBufferPointer { out in
                    for r in 0..<rows {
                        let row = x.baseAddress! + r * cols
                        let o = out.baseAddress! + r * cols
                        var ss: Float = 0
                        for j in 0..<cols { ss += row[j] * row[j] }
                        let inv = 1 / (ss / Float(cols) + epsilon).squareRoot()
                        inverseRMS[r] = inv
                        for j in 0..<cols { o[j] = row[j] * inv * w[j] }
                    }
                }
            }
        }
    }

    /// y = x·r·w with r = (mean(x²)+ε)^−½:
    /// dw += Σ_rows dy·x·r;  dx += r·(dy·w) − x·r³/D · Σ_j dy·w·x.
    /// An empty `dx` or `dw` is not wanted and stays empty.
    static func rmsNormBackward(
        _ x: [Float], _ w: [Float], _ inverseRMS: [Float], _ dy: [Float], rows: Int, cols: Int,
        dx: inout [Float], dw: inout [Float]
    ) {
        let wantX = !dx.isEmpty
        let wantW = !dw.isEmpty
        x.withUnsafeBufferPointer { x in
            w.withUnsafeBufferPointer { w in
                dy.withUnsafeBufferPointer { dy in
                    dx.withUnsafeMutableBufferPointer { dx in
                        dw.withUnsafeMutableBufferPointer { dw in
                            for r in 0..<rows {
                                let xr = x.baseAddress! + r * cols
                                let g = dy.baseAddress! + r * cols
                                let inv = inverseRMS[r]
                                if wantW {
                                    for j in 0..<cols { dw[j] += g[j] * xr[j] * inv }
                                }
                                if wantX {
                                    var dot: Float = 0
                                    for j in 0..<cols { dot += g[j] * w[j] * xr[j] }
                                    let k = inv * inv * inv * dot / Float(cols)
                                    let d = dx.baseAddress! + r * cols
                                    for j in 0..<cols { d[j] += inv * g[j] * w[j] - xr[j] * k }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    static func rope(_ x: inout [Float], heads: Int, table: RopeTable, inverse: Bool) {
        let half = table.dimensions / 2
        let cols = heads * table.headDimension
        let sign: Float = inverse ? -1 : 1
        x.withUnsafeMutableBufferPointer { x in
            for r in 0..<table.rows {
                for h in 0..<heads {
                    let v = x.baseAddress! + r * cols + h * table.headDimension
                    for i in 0..<half {
                        let c = table.cos[r * half + i]
                        let s = sign * table.sin[r * half + i]
                        let a = v[2 * i]
                        let b = v[2 * i + 1]
                        v[2 * i] = a * c - b * s
                        v[2 * i + 1] = a * s + b * c
                    }
                }
            }
        }
    }

    static func swigluForward(_ gate: [Float], _ up: [Float], _ out: inout [Float]) {
        let n = gate.count
        gate.withUnsafeBufferPointer { g in
            up.withUnsafeBufferPointer { u in
                out.withUnsafeMutableBufferPointer { o in
                    for i in 0..<n { o[i] = g[i] / (1 + expf(-g[i])) * u[i] }
                }
            }
        }
    }

    /// d/dg silu(g) = σ(g)·(1 + g·(1 − σ(g))). An empty `dGate` or `dUp` is not wanted.
    static func swigluBackward(_ gate: [Float], _ up: [Float], _ dy: [Float], dGate: inout [Float], dUp: inout [Float]) {
        let n = gate.count
        gate.withUnsafeBufferPointer { g in
            up.withUnsafeBufferPointer { u in
                dy.withUnsafeBufferPointer { dy in
                    if !dGate.isEmpty {
                        dGate.withUnsafeMutableBufferPointer { d in
                            for i in 0..<n {
                                let s = 1 / (1 + expf(-g[i]))
                                d[i] += dy[i] * u[i] * s * (1 + g[i] * (1 - s))
                            }
                        }
                    }
                    if !dUp.isEmpty {
                        dUp.withUnsafeMutableBufferPointer { d in
                            for i in 0..<n { d[i] += dy[i] * g[i] / (1 + expf(-g[i])) }
                        }
                    }
                }
            }
        }
    }

    /// Per sequence and head: S = Q·Kᵀ·scale masked to the causal segment, P = softmax(S),
    /// O = P·V. Keeps P for the backward pass.
    static func attentionForward(
        _ q: [Float], _ k: [Float], _ v: [Float], _ out: inout [Float], _ p: inout [Float],
        shape s: AttentionShape, segmentStart: [Int32]
    ) {
        let seqLen = s.length
        let d = s.headDim
        let qStride = s.heads * d
        let kvStride = s.kvHeads * d
        let group = s.heads / s.kvHeads
        let scale = 1 / Float(d).squareRoot()
        q.withUnsafeBufferPointer { q in
            k.withUnsafeBufferPointer { k in
                v.withUnsafeBufferPointer { v in
                    out.withUnsafeMutableBufferPointer { out in
                        p.withUnsafeMutableBufferPointer { p in
                            for b in 0..<s.sequences {
                                for h in 0..<s.heads {
                                    let kv = h / group
                                    let qh = q.baseAddress! + b * seqLen * qStride + h * d
                                    let kh = k.baseAddress! + b * seqLen * kvStride + kv * d
                                    let vh = v.baseAddress! + b * seqLen * kvStride + kv * d
                                    let ph = p.baseAddress! + (b * s.heads + h) * seqLen * seqLen
                                    sgemm(
                                        transB: true, m: seqLen, n: seqLen, k: d, alpha: scale, a: qh, lda: qStride, b: kh, ldb: kvStride,
                                        c: ph, ldc: seqLen)
                                    for i in 0..<seqLen {
                                        let row = ph + i * seqLen
                                        let first = Int(segmentStart[b * seqLen + i])
                                        var m = -Float.infinity
                                        for j in first...i { m = max(m, row[j]) }
                                        var sum: Float = 0
                                        for j in 0..<seqLen {
                                            let e: Float = (j >= first && j <= i) ? expf(row[j] - m) : 0
                                            row[j] = e
                                            sum += e
                                        }
                                        let inv = 1 / sum
                                        for j in first...i { row[j] *= inv }
                                    }
                                    sgemm(
                                        m: seqLen, n: d, k: seqLen, a: ph, lda: seqLen, b: vh, ldb: kvStride,
                                        c: out.baseAddress! + b * seqLen * qStride + h * d, ldc: qStride)
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// dV += Pᵀ·dO;  dP = dO·Vᵀ;  dS = P ⊙ (dP − rowsum(dO ⊙ O));  dQ = dS·K·scale;  dK += dSᵀ·Q·scale.
    static func attentionBackward(
        _ q: [Float], _ k: [Float], _ v: [Float], _ o: [Float], _ dout: [Float], _ p: [Float],
        shape s: AttentionShape, dq: inout [Float], dk: inout [Float], dv: inout [Float]
    ) {
        let seqLen = s.length
        let d = s.headDim
        let qStride = s.heads * d
        let kvStride = s.kvHeads * d
        let group = s.heads / s.kvHeads
        let scale = 1 / Float(d).squareRoot()
        var ds = [Float](repeating: 0, count: seqLen * seqLen)
        var rowDot = [Float](repeating: 0, count: seqLen)
        q.withUnsafeBufferPointer { q in
            k.withUnsafeBufferPointer { k in
                v.withUnsafeBufferPointer { v in
                    o.withUnsafeBufferPointer { o in
                        dout.withUnsafeBufferPointer { dout in
                            p.withUnsafeBufferPointer { p in
                                dq.withUnsafeMutableBufferPointer { dq in
                                    dk.withUnsafeMutableBufferPointer { dk in
                                        dv.withUnsafeMutableBufferPointer { dv in
                                            ds.withUnsafeMutableBufferPointer { ds in
                                                for b in 0..<s.sequences {
                                                    for h in 0..<s.heads {
                                                        let kv = h / group
                                                        let qOff = b * seqLen * qStride + h * d
                                                        let kvOff = b * seqLen * kvStride + kv * d
                                                        let ph = p.baseAddress! + (b * s.heads + h) * seqLen * seqLen
                                                        let doh = dout.baseAddress! + qOff
                                                        let oh = o.baseAddress! + qOff
                                                        sgemm(
                                                            transA: true, m: seqLen, n: d, k: seqLen, a: ph, lda: seqLen, b: doh,
                                                            ldb: qStride, beta: 1, c: dv.baseAddress! + kvOff, ldc: kvStride)
                                                        sgemm(
                                                            transB: true, m: seqLen, n: seqLen, k: d, a: doh, lda: qStride,
                                                            b: v.baseAddress! + kvOff, ldb: kvStride, c: ds.baseAddress!, ldc: seqLen)
                                                        for i in 0..<seqLen {
                                                            var acc: Float = 0
                                                            for j in 0..<d { acc += doh[i * qStride + j] * oh[i * qStride + j] }
                                                            rowDot[i] = acc
                                                        }
                                                        for i in 0..<seqLen {
                                                            let prow = ph + i * seqLen
                                                            let drow = ds.baseAddress! + i * seqLen
                                                            let r = rowDot[i]
                                                            for j in 0..<seqLen { drow[j] = prow[j] * (drow[j] - r) }
                                                        }
                                                        sgemm(
                                                            m: seqLen, n: d, k: seqLen, alpha: scale, a: ds.baseAddress!, lda: seqLen,
                                                            b: k.baseAddress! + kvOff, ldb: kvStride, beta: 1,
                                                            c: dq.baseAddress! + qOff, ldc: qStride)
                                                        sgemm(
                                                            transA: true, m: seqLen, n: d, k: seqLen, alpha: scale, a: ds.baseAddress!,
                                                            lda: seqLen, b: q.baseAddress! + qOff, ldb: qStride, beta: 1,
                                                            c: dk.baseAddress! + kvOff, ldc: kvStride)
                                                    }
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Σ over counted rows of logsumexp − logit[target], and each counted row's logsumexp.
    static func crossEntropyForward(_ logits: [Float], targets: [Int32], vocabulary v: Int, logSumExp: inout [Float]) -> (Float, Int) {
        var total: Double = 0
        var counted = 0
        logits.withUnsafeBufferPointer { logits in
            for (t, target) in targets.enumerated() where target >= 0 {
                precondition(Int(target) < v, "crossEntropy: target \(target) outside 0..<\(v)")
                let row = logits.baseAddress! + t * v
                var m = -Float.infinity
                for j in 0..<v { m = max(m, row[j]) }
                var sum: Float = 0
                for j in 0..<v { sum += expf(row[j] - m) }
                let lse = logf(sum) + m
                logSumExp[t] = lse
                total += Double(lse - row[Int(target)])
                counted += 1
            }
        }
        return (Float(total), counted)
    }

    /// `gradient += scale · (softmax − onehot)` on counted rows.
    static func crossEntropyBackward(
        _ logits: [Float], targets: [Int32], vocabulary v: Int, logSumExp: [Float], scale: Float, into gradient: inout [Float]
    ) {
        logits.withUnsafeBufferPointer { logits in
            gradient.withUnsafeMutableBufferPointer { g in
                for (t, target) in targets.enumerated() where target >= 0 {
                    let row = logits.baseAddress! + t * v
                    let grow = g.baseAddress! + t * v
                    let lse = logSumExp[t]
                    for j in 0..<v { grow[j] += scale * expf(row[j] - lse) }
                    grow[Int(target)] -= scale
                }
            }
        }
    }
}
