import ColonyKernels
import ColonyTensor
import Foundation
import Testing

/// Random blocks of the quant types Colony reads but does not write, from the fixture that
/// gguf-py's dequantisation produced (scripts/reference/make_quant_fixtures.py) or drawn
/// here the same way: random bytes with sane f16 scale fields.
struct QuantBlocks: Decodable {
    struct Case: Decodable {
        let type: String
        let rows: Int
        let rowElements: Int
        let bytes: String
        let values: [UInt32]

        enum CodingKeys: String, CodingKey {
            case type, rows, bytes, values
            case rowElements = "row_elements"
        }

        var dtype: DType { DType.allCases.first { $0.description == type }! }
        var data: [UInt8] {
            var out: [UInt8] = []
            var it = bytes.makeIterator()
            while let a = it.next(), let b = it.next() { out.append(UInt8(String([a, b]), radix: 16)!) }
            return out
        }
    }
    let cases: [Case]

    static let fixture: QuantBlocks = {
        let url = Bundle.module.url(forResource: "quant-blocks", withExtension: "json", subdirectory: "Fixtures")!
        return try! JSONDecoder().decode(QuantBlocks.self, from: Data(contentsOf: url))
    }()

    /// Byte offset, low and high of each f16 field of a block (as in the fixture script).
    static let scaleFields: [DType: [(Int, Float, Float)]] = [
        .q5_0: [(0, 0.001, 0.05)], .q5_1: [(0, 0.001, 0.05), (2, -0.5, 0.5)],
        .q2_K: [(80, 0.001, 0.05), (82, 0.001, 0.05)], .q3_K: [(108, 0.001, 0.05)],
        .q4_K: [(0, 0.001, 0.05), (2, 0.001, 0.05)], .q5_K: [(0, 0.001, 0.05), (2, 0.001, 0.05)],
        .q6_K: [(208, 0.001, 0.05)],
    ]

    /// `rows` rows of `k` elements of random blocks of `type`.
    static func random(_ type: DType, rows: Int, k: Int, rng: inout TestRandom) -> [UInt8] {
        let blocks = rows * k / type.blockElements
        var bytes = (0..<blocks * type.blockBytes).map { _ in UInt8(truncatingIfNeeded: rng.nextBits()) }
        for b in 0..<blocks {
            for (offset, low, high) in scaleFields[type]! {
                let v = Float16(low + (high - low) * (rng.next() + 1) / 2).bitPattern
                bytes[b * type.blockBytes + offset] = UInt8(v & 0xff)
                bytes[b * type.blockBytes + offset + 1] = UInt8(v >> 8)
            }
        }
        return bytes
    }
}

extension TestRandom {
    mutating func nextBits() -> UInt64 {
        _ = next()
        return state >> 24
    }
}

@Suite("Q5 and K-quant blocks against gguf-py and the scalar reference", .serialized)
struct QuantBlockTests {
    static let types: [DType] = [.q5_0, .q5_1, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K]

    @Test("dequantisation equals gguf-py's bit for bit", arguments: QuantBlocks.fixture.cases.map(\.type))
    func dequantize(type: String) {
        let c = QuantBlocks.fixture.cases.first { $0.type == type }!
        let bytes = c.data
        var got = [Float](repeating: .nan, count: c.rows * c.rowElements)
        ck_dequantize_row(Int32(c.dtype.rawValue), bytes, &got, Int64(got.count))
        let mismatches = zip(got.map(\.bitPattern), c.values).filter { $0 != $1 }.count
        #expect(mismatches == 0, "\(type): \(mismatches) of \(got.count) values differ")
        #expect(bytes.count == c.dtype.byteCount(elements: got.count))
    }

    @Test("float-activation dot equals the reference on every path", arguments: types, KernelPath.allCases)
    func floatDot(type: DType, path: KernelPath) {
        var rng = TestRandom(state: 31)
        for k in type.blockElements == 256 ? [256, 768] : [32, 96, 576] {
            let row = QuantBlocks.random(type, rows: 1, k: k, rng: &rng)
            let x = rng.floats(k)
            var values = [Float](repeating: 0, count: k)
            ck_dequantize_row(Int32(type.rawValue), row, &values, Int64(k))
            let independent = zip(values, x).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            let ref = ck_ref_dot(Int32(type.rawValue), row, x, Int64(k))
            let got = path.run { ck_dot_f32(Int32(type.rawValue), row, x, Int64(k)) }
            #expect(abs(ref - independent) < 1e-9, "\(type) k=\(k)")
            #expect(abs(Double(got) - ref) < 1e-5 * Double(k).squareRoot(), "\(type) k=\(k) \(path)")
        }
    }

    @Test("packed integer matmul stays within the activation rounding error", arguments: types, KernelPath.allCases)
    func packedMatmul(type: DType, path: KernelPath) throws {
        var rng = TestRandom(state: 37)
        let shapes = type.blockElements == 256 ? [(16, 256, 1), (32, 512, 3), (48, 768, 2)] : [(16, 32, 1), (32, 96, 3), (48, 576, 2)]
        for (n, k, t) in shapes + [(32, shapes[1].1, 7)] {
            let bytes = QuantBlocks.random(type, rows: n, k: k, rng: &rng)
            let w = Tensor(name: "w", dtype: type, shape: [k, n], storage: TensorStorage(copying: bytes), byteOffset: 0)
            let packed = try #require(PackedMatrix(w))
            // Scales widened to bytes cost Q3_K, Q4_K and Q5_K a few percent; the rest keep their size.
            #expect(packed.storage.byteCount >= w.byteCount && Double(packed.storage.byteCount) <= 1.04 * Double(w.byteCount))
            let x = rng.floats(t * k)
            let all = w.dequantized()
            let rows = (0..<n).map { Array(all[$0 * k..<($0 + 1) * k]) }
            for split in [false, true] {
                let acts = KernelTests.Activations(x, t: t, k: k, split: split)
                var y = [Float](repeating: .nan, count: t * n)
                path.run {
                    ck_packed_matmul(Int32(type.rawValue), packed.data, Int64(k), 0, Int64(n / 16), acts.rows, Int64(t), &y, Int64(n))
                }
                for i in 0..<t {
                    let xi = Array(x[i * k..<(i + 1) * k])
                    for r in 0..<n {
                        let ref = ck_ref_dot(Int32(type.rawValue), w.data + r * w.rowBytes, xi, Int64(k))
                        // Each activation moves by at most half a step of its block: max|x_b| / 254
                        // (int8) or / 32512 (split), weighted by the row's |w| in that block.
                        var bound = 1e-5
                        for b in 0..<k / 32 {
                            let amax = xi[b * 32..<(b + 1) * 32].map { abs(Double($0)) }.max()!
                            let wsum = rows[r].dropFirst(b * 32).prefix(32).reduce(0.0) { $0 + abs(Double($1)) }
                            bound += wsum * amax / (split ? 32512 : 254) + 1e-6 * wsum * amax
                        }
                        #expect(abs(Double(y[i * n + r]) - ref) < bound, "\(type) split=\(split) n=\(n) k=\(k) row \(r) token \(i)")
                    }
                }
            }
        }
    }

    @Test("K-quants are read, not written: quantising to one names the types that can be")
    func refuseQuantizing() {
        #expect(throws: TensorError.cannotQuantize(.q4_K, tensor: "w")) {
            try Tensor.quantizing([Float](repeating: 0, count: 256), name: "w", shape: [256], as: .q4_K)
        }
        #expect(TensorError.cannotQuantize(.q4_K, tensor: "w").description.contains("Q5_1"))
    }
}
