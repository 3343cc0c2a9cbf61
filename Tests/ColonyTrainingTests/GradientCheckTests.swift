import ColonyTensor
import Foundation
import Testing

@testable import ColonyTraining

/// Deterministic values in [-scale, scale).
func randomValues(_ n: Int, seed: UInt64, scale: Float = 1) -> [Float] {
    var state = seed &* 0x9E37_79B9_7F4A_7C15 &+ 1
    return (0..<n).map { _ in
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return (Float(state >> 40) / Float(1 << 24) * 2 - 1) * scale
    }
}

func variable(_ rows: Int, _ cols: Int, seed: UInt64, scale: Float = 1, grad: Bool = true) -> Variable {
    Variable(rows: rows, cols: cols, value: randomValues(rows * cols, seed: seed, scale: scale), requiresGrad: grad)
}

/// Compares each input's backward gradient with central finite differences of `f`.
func checkGradients(
    _ inputs: [Variable], epsilon: Float = 1e-2, tolerance: Float = 2e-2,
    sourceLocation: SourceLocation = #_sourceLocation, _ f: (Tape, [Variable]) -> Variable
) {
    let tape = Tape()
    let loss = f(tape, inputs)
    try! tape.backward(from: loss)  // a tape without tensor-parallel ops never throws
    for (n, v) in inputs.enumerated() where v.requiresGrad {
        #expect(v.grad.count == v.count, "input \(n) got no gradient", sourceLocation: sourceLocation)
        guard v.grad.count == v.count else { continue }
        let step = max(1, v.count / 24)  // a spread of entries keeps big inputs fast
        var worst: Float = 0
        for i in stride(from: 0, to: v.count, by: step) {
            let original = v.value[i]
            v.value[i] = original + epsilon
            let plus = f(Tape(), inputs).value[0]
            v.value[i] = original - epsilon
            let minus = f(Tape(), inputs).value[0]
            v.value[i] = original
            let numeric = (plus - minus) / (2 * epsilon)
            let error = abs(numeric - v.grad[i]) / max(1, abs(numeric))
            worst = max(worst, error)
        }
        #expect(worst < tolerance, "input \(n): worst relative gradient error \(worst)", sourceLocation: sourceLocation)
    }
}

@Suite("Autograd: every op against finite differences")
struct GradientCheckTests {
    @Test("linear (input and weight)")
    func linear() {
        let x = variable(5, 7, seed: 1)
        let w = variable(3, 7, seed: 2)
        let probe = randomValues(15, seed: 3)
        checkGradients([x, w]) { t, v in t.weightedSum(t.linear(v[0], v[1]), probe) }
    }

    @Test("linear with a frozen quantized weight passes gradient to the input only")
    func frozenLinear() throws {
        let w = try Tensor.quantizing(randomValues(4 * 32, seed: 4), name: "w", shape: [32, 4], as: .q8_0)
        let x = variable(3, 32, seed: 5)
        let probe = randomValues(12, seed: 6)
        checkGradients([x]) { t, v in t.weightedSum(t.linear(v[0], frozen: FrozenMatrix(w)), probe) }
        // The product uses the dequantized weight exactly.
        let dense = Variable(rows: 4, cols: 32, value: w.dequantized())
        let a = Tape().linear(x, frozen: FrozenMatrix(w)).value
        let b = Tape().linear(x, dense).value
        #expect(zip(a, b).allSatisfy { abs($0 - $1) < 1e-5 })
    }

    @Test("add, mul and scale")
    func elementwise() {
        let a = variable(4, 6, seed: 7)
        let b = variable(4, 6, seed: 8)
        let probe = randomValues(24, seed: 9)
        checkGradients([a, b]) { t, v in t.weightedSum(t.scale(t.add(t.mul(v[0], v[1]), v[0]), 0.7), probe) }
    }

    @Test("embedding accumulates repeated rows")
    func embedding() {
        let table = variable(10, 4, seed: 10)
        let probe = randomValues(20, seed: 11)
        checkGradients([table]) { t, v in t.weightedSum(t.embedding([3, 1, 3, 9, 0], v[0]), probe) }
    }

    @Test("RMSNorm (input and weight)")
    func rmsNorm() {
        let x = variable(3, 16, seed: 12)
        let w = variable(1, 16, seed: 13)
        let probe = randomValues(48, seed: 14)
        checkGradients([x, w]) { t, v in t.weightedSum(t.rmsNorm(v[0], v[1], epsilon: 1e-5), probe) }
    }

    @Test("RoPE, including partial rotation")
    func rope() {
        let x = variable(4, 2 * 8, seed: 15)
        let table = RopeTable(positions: [0, 1, 5, 9], headDimension: 8, dimensions: 6, base: 10000, scale: 1)
        let probe = randomValues(64, seed: 16)
        checkGradients([x]) { t, v in t.weightedSum(t.rope(v[0], heads: 2, table: table), probe) }
    }

    @Test("SwiGLU (gate and up)")
    func swiglu() {
        let g = variable(3, 10, seed: 17, scale: 3)
        let u = variable(3, 10, seed: 18)
        let probe = randomValues(30, seed: 19)
        checkGradients([g, u]) { t, v in t.weightedSum(t.swiglu(v[0], v[1]), probe) }
    }

    @Test("causal grouped-query attention over packed sequences")
    func attention() {
        // 2 sequences of 5; heads 4 over 2 KV heads of 8; the first sequence holds two documents.
        let q = variable(10, 32, seed: 20)
        let k = variable(10, 16, seed: 21)
        let v = variable(10, 16, seed: 22)
        let starts: [Int32] = [0, 0, 0, 3, 3, 0, 0, 0, 0, 0]
        let probe = randomValues(10 * 32, seed: 23)
        checkGradients([q, k, v]) { t, x in
            t.weightedSum(t.attention(q: x[0], k: x[1], v: x[2], heads: 4, kvHeads: 2, length: 5, segmentStart: starts), probe)
        }
    }

    @Test("attention never looks ahead or across a document boundary")
    func attentionMask() {
        let q = variable(4, 8, seed: 24)
        let k = variable(4, 8, seed: 25)
        let v = variable(4, 8, seed: 26)
        let starts: [Int32] = [0, 0, 2, 2]
        let out = Tape().attention(q: q, k: k, v: v, heads: 1, kvHeads: 1, length: 4, segmentStart: starts)
        // Changing the future or the other document leaves a row unchanged.
        let v2 = Variable(rows: 4, cols: 8, value: v.value)
        for j in 0..<8 {
            v2.value[3 * 8 + j] += 5
            v2.value[1 * 8 + j] -= 5
        }
        let out2 = Tape().attention(q: q, k: k, v: v2, heads: 1, kvHeads: 1, length: 4, segmentStart: starts)
        #expect(Array(out.value[0..<8]) == Array(out2.value[0..<8]))
        #expect(Array(out.value[16..<24]) == Array(out2.value[16..<24]))
        // Row 2 is the first token of its document: it sees only itself.
        #expect(zip(out.value[16..<24], v.value[16..<24]).allSatisfy { abs($0 - $1) < 1e-6 })
    }

    @Test("cross-entropy with ignored targets")
    func crossEntropy() {
        let logits = variable(4, 9, seed: 27, scale: 3)
        checkGradients([logits]) { t, v in t.crossEntropy(v[0], targets: [2, -1, 8, 0]) }
        // The loss is the mean negative log-probability of the counted targets.
        let l = Tape().crossEntropy(logits, targets: [2, -1, -1, -1]).value[0]
        let row = logits.value[0..<9]
        let m = row.max()!
        let expected = log(row.reduce(0) { $0 + exp($1 - m) }) + m - row[row.startIndex + 2]
        #expect(abs(l - expected) < 1e-5)
        #expect(Tape().crossEntropy(logits, targets: [-1, -1, -1, -1]).value == [0])
    }
}
