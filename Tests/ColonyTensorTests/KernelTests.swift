import ColonyKernels
import ColonyTensor
import Foundation
import Testing

/// Deterministic pseudo-random floats (no global RNG state in tests).
struct TestRandom {
    var state: UInt64
    mutating func next() -> Float {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Float(Int64(bitPattern: state >> 11) % 2_000_001 - 1_000_000) / 1_000_000
    }
    mutating func floats(_ n: Int, scale: Float = 1) -> [Float] { (0..<n).map { _ in next() * scale } }
}

/// Which code path a kernel test exercises.
enum KernelPath: String, CaseIterable, CustomTestStringConvertible {
    case simd, generic
    var testDescription: String { rawValue }
    func run<T>(_ body: () throws -> T) rethrows -> T {
        ck_force_generic(self == .generic ? 1 : 0)
        defer { ck_force_generic(0) }
        return try body()
    }
}

@Suite("Kernels against scalar references", .serialized)
struct KernelTests {
    static let types: [DType] = [.f32, .f16, .bf16, .q4_0, .q4_1, .q5_0, .q5_1, .q8_0]

    @Test("dequantised values stay within the type's rounding error", arguments: types)
    func quantizeRoundTrip(type: DType) throws {
        var rng = TestRandom(state: 7)
        let values = rng.floats(256, scale: 2)
        let t = try Tensor.quantizing(values, name: "w", shape: [256], as: type)
        let back = t.dequantized()
        // Per-block bound: half a quantisation step of the block's range.
        let bound: Float =
            switch type {
            case .f32: 0
            case .f16: 2e-3
            case .bf16: 1.6e-2
            case .q8_0: 2.0 / 127
            case .q5_0, .q5_1: 4.0 / 31
            default: 4.0 / 15
            }
        for (a, b) in zip(values, back) { #expect(abs(a - b) <= bound, "\(type): \(a) became \(b)") }
    }

    @Test("a column slice on block edges keeps the type and equals the slice of the expanded matrix", arguments: types)
    func columnSlice(type: DType) throws {
        var rng = TestRandom(state: 11)
        let (rows, cols) = (3, 128)
        let t = try Tensor.quantizing(rng.floats(rows * cols), name: "w", shape: [cols, rows], as: type)
        let whole = t.dequantized()
        let slice = try #require(t.columns(32, 64))
        #expect(slice.dtype == type && slice.shape == [64, rows])
        let expected = (0..<rows).flatMap { r in whole[(r * cols + 32)..<(r * cols + 96)] }
        #expect(slice.dequantized().map(\.bitPattern) == expected.map(\.bitPattern))
        #expect(type.blockElements == 1 || t.columns(16, 32) == nil, "a slice through a block is refused")
    }

    @Test("float-activation dot equals the reference", arguments: types, KernelPath.allCases)
    func floatDot(type: DType, path: KernelPath) throws {
        var rng = TestRandom(state: 11)
        for k in [32, 64, 96, 576] {
            let w = try Tensor.quantizing(rng.floats(k), name: "w", shape: [k], as: type)
            let x = rng.floats(k)
            let ref = ck_ref_dot(Int32(type.rawValue), w.data, x, Int64(k))
            let got = path.run { ck_dot_f32(Int32(type.rawValue), w.data, x, Int64(k)) }
            #expect(abs(Double(got) - ref) < 1e-4 * Double(k).squareRoot(), "\(type) k=\(k)")
        }
    }

    /// Quantised activations of `x` (T tokens of k floats), with their parts as arrays.
    final class Activations {
        let acts: QuantizedActivations
        let t, k: Int
        init(_ x: [Float], t: Int, k: Int, split: Bool) {
            self.t = t
            self.k = k
            acts = QuantizedActivations(capacity: t, k: k, split: split)
            x.withUnsafeBufferPointer { _ = acts.quantize($0.baseAddress!, rows: t) }
        }
        var rows: UnsafePointer<ck_act> { UnsafePointer(acts.rows) }
        private func array<T>(_ p: UnsafeMutablePointer<T>?, _ count: Int) -> [T] {
            p.map { Array(UnsafeBufferPointer(start: $0, count: count)) } ?? []
        }
        var hi: [Int8] { array(acts.rows[0].hi, t * k) }
        var lo: [Int8] { array(acts.rows[0].lo, t * k) }
        var d: [Float] { array(acts.rows[0].d, t * k / 32) }
        var isum: [Int32] { array(acts.rows[0].isum, t * k / 32) }
        var isum16: [Int32] { array(acts.rows[0].isum16, t * k / 16) }
    }

    @Test(
        "packed integer matmul stays within the activation rounding error",
        arguments: [DType.q4_0, .q4_1, .q5_0, .q5_1, .q8_0], KernelPath.allCases)
    func packedMatmul(type: DType, path: KernelPath) throws {
        var rng = TestRandom(state: 13)
        for (n, k, t) in [(16, 32, 1), (32, 96, 3), (48, 576, 2)] {
            let w = try Tensor.quantizing(rng.floats(n * k), name: "w", shape: [k, n], as: type)
            let packed = try #require(PackedMatrix(w))
            #expect(packed.storage.byteCount == w.byteCount)
            let x = rng.floats(t * k)
            for split in [false, true] {
                let acts = Activations(x, t: t, k: k, split: split)
                var y = [Float](repeating: .nan, count: t * n)
                path.run {
                    ck_packed_matmul(Int32(type.rawValue), packed.data, Int64(k), 0, Int64(n / 16), acts.rows, Int64(t), &y, Int64(n))
                }
                for i in 0..<t {
                    for r in 0..<n {
                        let ref = ck_ref_dot(Int32(type.rawValue), w.data + r * w.rowBytes, Array(x[i * k..<(i + 1) * k]), Int64(k))
                        // Each activation moves by at most half a step: max|x| / 254 (int8) or / 32512 (split).
                        let bound = Double(k) / (split ? 32512 : 254) + 1e-4
                        #expect(abs(Double(y[i * n + r]) - ref) < bound, "\(type) split=\(split) n=\(n) k=\(k) row \(r)")
                    }
                }
            }
        }
        #expect(
            PackedMatrix(try Tensor.quantizing(rng.floats(8 * 32), name: "w", shape: [32, 8], as: type)) == nil, "8 rows: no packed form")
    }

    @Test("activation quantisation is identical on both paths and within half a step", arguments: [false, true])
    func activationQuantization(split: Bool) {
        var rng = TestRandom(state: 29)
        let x = rng.floats(96, scale: 3)
        let simd = KernelPath.simd.run { Activations(x, t: 1, k: 96, split: split) }
        let generic = KernelPath.generic.run { Activations(x, t: 1, k: 96, split: split) }
        #expect(simd.hi == generic.hi && simd.lo == generic.lo && simd.isum == generic.isum && simd.d == generic.d)
        #expect(simd.isum16 == generic.isum16)
        for b in 0..<3 {
            var sum: Int32 = 0
            for j in 0..<32 {
                let v = split ? Int32(simd.hi[b * 32 + j]) * 128 + Int32(simd.lo[b * 32 + j]) : Int32(simd.hi[b * 32 + j])
                if split { #expect((0...127).contains(simd.lo[b * 32 + j])) }
                sum += v
                if j == 15 { #expect(sum == simd.isum16[2 * b], "the first half's sum") }
                #expect(abs(Float(v) * simd.d[b] - x[b * 32 + j]) <= simd.d[b] / 2 * 1.0001)
            }
            #expect(sum == simd.isum[b])
            #expect(simd.isum16[2 * b + 1] == sum - simd.isum16[2 * b])
        }
    }

    @Test("matmul over rows and tokens equals row-by-row dots", arguments: types)
    func matmulRows(type: DType) throws {
        var rng = TestRandom(state: 17)
        let (n, k, t) = (24, 64, 3)
        let w = try Tensor.quantizing(rng.floats(n * k), name: "w", shape: [k, n], as: type)
        let x = rng.floats(t * k)
        var y = [Float](repeating: .nan, count: t * n)
        ck_matmul_rows(Int32(type.rawValue), w.data, Int64(k), 0, Int64(n), x, Int64(t), &y, Int64(n))
        for i in 0..<t {
            for r in 0..<n {
                let ref = ck_ref_dot(Int32(type.rawValue), w.data + r * w.rowBytes, Array(x[i * k..<(i + 1) * k]), Int64(k))
                #expect(abs(Double(y[i * n + r]) - ref) < 1e-4, "row \(r) token \(i)")
            }
        }
    }

    @Test("half and bfloat16 conversions round to nearest even")
    func conversions() {
        #expect(ck_f16_to_f32(0x3C00) == 1)
        #expect(ck_f16_to_f32(0xC000) == -2)
        #expect(ck_f16_to_f32(0x0001) == 5.9604645e-8)  // smallest subnormal
        #expect(ck_f16_to_f32(0x7BFF) == 65504)
        #expect(ck_f32_to_f16(1) == 0x3C00)
        #expect(ck_f32_to_f16(65520) == 0x7C00)  // rounds to infinity
        #expect(ck_f32_to_f16(1 + 1.0 / 2048) == 0x3C00)  // tie to even
        #expect(ck_f32_to_f16(1 + 3.0 / 2048) == 0x3C02)
        #expect(ck_f32_to_f16(5.9604645e-8) == 0x0001)
        #expect(ck_f32_to_bf16(1) == 0x3F80)
        #expect(ck_bf16_to_f32(0x4049) == 3.140625)
        for v: Float in [0.1, -3.5, 1e-3, 1234.5] {
            #expect(abs(ck_f16_to_f32(ck_f32_to_f16(v)) - v) <= abs(v) / 1024)
        }
    }

    @Test("rmsnorm, rope and swiglu match their definitions")
    func elementwise() {
        var rng = TestRandom(state: 19)
        let x = rng.floats(64)
        let w = rng.floats(64)
        var out = [Float](repeating: 0, count: 64)
        ck_rmsnorm(x, w, &out, 64, 1e-5)
        let rms = (x.map { $0 * $0 }.reduce(0, +) / 64 + 1e-5).squareRoot()
        for i in 0..<64 { #expect(abs(out[i] - x[i] / rms * w[i]) < 1e-5) }

        var v = rng.floats(32)  // two heads of 16, rotate the first 8 of each
        let original = v
        let angles: [Float] = [0.1, 0.2, 0.3, 0.4]
        let cosines = angles.map { cos($0) }
        let sines = angles.map { sin($0) }
        ck_rope(&v, 2, 16, 8, cosines, sines)
        for h in 0..<2 {
            for i in 0..<4 {
                let a = original[h * 16 + 2 * i]
                let b = original[h * 16 + 2 * i + 1]
                let c = cosines[i]
                let s = sines[i]
                #expect(abs(v[h * 16 + 2 * i] - (a * c - b * s)) < 1e-6)
                #expect(abs(v[h * 16 + 2 * i + 1] - (a * s + b * c)) < 1e-6)
            }
            #expect(Array(v[(h * 16 + 8)..<(h * 16 + 16)]) == Array(original[(h * 16 + 8)..<(h * 16 + 16)]))
        }

        var w2 = original  // NEOX: pairs (i, i + 4) of the first 8 of each head
        ck_rope_neox(&w2, 2, 16, 8, cosines, sines)
        for h in 0..<2 {
            for i in 0..<4 {
                let a = original[h * 16 + i]
                let b = original[h * 16 + i + 4]
                #expect(abs(w2[h * 16 + i] - (a * cosines[i] - b * sines[i])) < 1e-6)
                #expect(abs(w2[h * 16 + i + 4] - (a * sines[i] + b * cosines[i])) < 1e-6)
            }
            #expect(Array(w2[(h * 16 + 8)..<(h * 16 + 16)]) == Array(original[(h * 16 + 8)..<(h * 16 + 16)]))
        }

        let g = rng.floats(40, scale: 4)
        let u = rng.floats(40)
        var s = [Float](repeating: 0, count: 40)
        ck_swiglu(g, u, &s, 40)
        for i in 0..<40 { #expect(abs(s[i] - g[i] / (1 + exp(-g[i])) * u[i]) < 1e-5) }
        ck_geglu(g, u, &s, 40)
        for i in 0..<40 {
            let x = Double(g[i])
            let gelu = 0.5 * x * (1 + tanh((2 / Double.pi).squareRoot() * (x + 0.044715 * x * x * x)))
            #expect(abs(Double(s[i]) - gelu * Double(u[i])) < 1e-5)
        }
        var capped = g
        ck_softcap(&capped, 40, 1.5)
        for i in 0..<40 { #expect(abs(Double(capped[i]) - 1.5 * tanh(Double(g[i]) / 1.5)) < 1e-6) }
    }

    @Test(
        "paged attention equals softmax attention over the same keys",
        arguments: [(positions: 11, headDim: 16), (150, 64), (70, 128), (40, 48)], KernelPath.allCases)
    func attention(shape: (positions: Int, headDim: Int), path: KernelPath) {
        var rng = TestRandom(state: 23)
        let (positions, headDim) = shape
        let (kvHeads, blockSize) = (2, 4)
        let kvDim = headDim * kvHeads
        // Blocks deliberately out of order.
        let blocks = (positions + blockSize - 1) / blockSize
        let table: [Int32] = (0..<Int32(blocks)).map { ($0 * 7 + 3) % Int32(blocks) }
        #expect(Set(table).count == blocks)
        var k = [Float](repeating: 0, count: blocks * blockSize * kvDim)
        var v = k
        var logicalK: [[Float]] = []
        var logicalV: [[Float]] = []
        for p in 0..<positions {
            let slot = Int(table[p / blockSize]) * blockSize + p % blockSize
            let kp = rng.floats(kvDim)
            let vp = rng.floats(kvDim)
            k.replaceSubrange(slot * kvDim..<(slot + 1) * kvDim, with: kp)
            v.replaceSubrange(slot * kvDim..<(slot + 1) * kvDim, with: vp)
            logicalK.append(kp)
            logicalV.append(vp)
        }
        let q = rng.floats(headDim, scale: 4)  // large scores: the softmax must rescale
        for (start, softcap, f16) in [(0, Float(0), false), (positions / 3, 1.5, false), (0, 0, true), (positions / 2, 3, true)] {
            // The f16 cache holds the rounded values: the reference uses them too.
            func stored(_ x: Float) -> Float { f16 ? Float(Float16(x)) : x }
            var out = [Float](repeating: 0, count: headDim)
            let bytes = f16 ? 2 : 4
            let kc = UnsafeMutableRawPointer.allocate(byteCount: k.count * bytes, alignment: 64)
            let vc = UnsafeMutableRawPointer.allocate(byteCount: v.count * bytes, alignment: 64)
            defer {
                kc.deallocate()
                vc.deallocate()
            }
            ck_kv_store(kc, f16 ? 1 : 0, 0, k, Int64(k.count))
            ck_kv_store(vc, f16 ? 1 : 0, 0, v, Int64(v.count))
            path.run {
                ck_attention_head(
                    q, ck_kv_layer(k: kc, v: vc, block_size: Int64(blockSize), kv_dim: Int64(kvDim), f16: f16 ? 1 : 0),
                    table, Int64(positions), 1, Int64(headDim), ck_attn_params(start: Int64(start), scale: 0.25, softcap: softcap), &out)
            }
            let scores = (start..<positions).map { p in
                let raw = (0..<headDim).map { q[$0] * stored(logicalK[p][headDim + $0]) }.reduce(0, +) * 0.25
                return softcap > 0 ? softcap * tanh(raw / softcap) : raw
            }
            let m = scores.max()!
            let e = scores.map { exp($0 - m) }
            let z = e.reduce(0, +)
            for i in 0..<headDim {
                let ref = e.indices.map { e[$0] / z * stored(logicalV[start + $0][headDim + i]) }.reduce(0, +)
                #expect(abs(out[i] - ref) < 1e-5, "start \(start) softcap \(softcap) f16 \(f16)")
            }
        }
    }
}
