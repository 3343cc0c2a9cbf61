import ColonyKernels
import ColonyTensor
import Testing

/// f32 ⇄ f16/bf16 against Swift's `Float16` and the definition of bf16.
@Suite struct HalfFloatTests {
    /// Random f32 bit patterns from a fixed-seed generator (splitmix64), NaNs and
    /// infinities included.
    static func randomBits(_ n: Int, seed: UInt64) -> [Float] {
        var state = seed
        return (0..<n).map { _ in
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return Float(bitPattern: UInt32(truncatingIfNeeded: z ^ (z >> 31)))
        }
    }

    static func sameValue(_ a: Float, _ b: Float) -> Bool {
        a.isNaN ? b.isNaN : a.bitPattern == b.bitPattern
    }

    @Test func f16DecodeMatchesFloat16OnEveryBitPattern() {
        let wrong = (0...UInt16.max).filter { h in
            !Self.sameValue(HalfFloat.float(f16: h), Float(Float16(bitPattern: h)))
        }
        #expect(wrong.isEmpty, "first wrong patterns: \(wrong.prefix(5))")
    }

    @Test func f16EncodeMatchesFloat16() {
        // Every f16 value, every midpoint between neighbours (the ties), and random floats
        // across the whole f32 range (overflow, subnormals, NaN).
        var inputs: [Float] = []
        for h in UInt16(0)..<0x7C00 {
            let x = Float(Float16(bitPattern: h))
            let next = Float(Float16(bitPattern: h + 1))
            inputs += [x, -x, (x + next) / 2, -(x + next) / 2]
        }
        inputs += Self.randomBits(200_000, seed: 1) + [.infinity, -.infinity, .nan, 65520, 65519.99, 0x1p-25, 0x1p-26]
        let wrong = inputs.filter { x in
            let h = HalfFloat.f16(x)
            return Float16(x).isNaN ? !Float16(bitPattern: h).isNaN : h != Float16(x).bitPattern
        }
        #expect(wrong.isEmpty, "first wrong inputs: \(wrong.prefix(5))")
    }

    static let bf16Cases: [(Float, UInt16)] = [
        (1, 0x3F80),
        (1 + 0x1p-8, 0x3F80),  // tie, kept half even: down
        (1 + 3 * 0x1p-8, 0x3F82),  // tie, kept half odd: up
        (1 + 0x1p-8 + 0x1p-20, 0x3F81),  // just above the tie: up
        (-1.5, 0xBFC0),
        (.greatestFiniteMagnitude, 0x7F80),  // rounds up to infinity
        (.infinity, 0x7F80),
        (0x1p-140, 0x0000),  // below half of bf16's smallest subnormal (2^-133): zero
    ]

    @Test(arguments: bf16Cases)
    func bf16RoundsToNearestEven(_ x: Float, _ expected: UInt16) {
        #expect(HalfFloat.bf16(x) == expected)
    }

    @Test func bf16KeepsNaNAQuietNaN() {
        // 0x7F80_FFFF is a NaN whose upper half alone would read as infinity.
        for bits: UInt32 in [0x7FC0_0000, 0x7F80_FFFF, 0xFF80_0001, 0x7FFF_FFFF] {
            #expect(HalfFloat.float(bf16: HalfFloat.bf16(Float(bitPattern: bits))).isNaN)
        }
    }

    @Test func bf16EncodeIsTheNearestBF16() {
        // The two bf16 neighbours of x, compared in Double: the nearer one, the even one on a tie.
        let inputs = Self.randomBits(200_000, seed: 2).filter(\.isFinite)
        let wrong = inputs.filter { x in
            let low = UInt16(truncatingIfNeeded: x.bitPattern >> 16)
            let high = low &+ 1
            // Rounding treats infinity as the next step, ±2^128 (IEEE 754 overflow).
            func value(_ h: UInt16) -> Double {
                h & 0x7FFF == 0x7F80 ? (x < 0 ? -0x1p128 : 0x1p128) : Double(HalfFloat.float(bf16: h))
            }
            let dLow = abs(Double(x) - value(low))
            let dHigh = abs(Double(x) - value(high))
            let expected = dLow < dHigh || (dLow == dHigh && low & 1 == 0) ? low : high
            return HalfFloat.bf16(x) != expected
        }
        #expect(wrong.isEmpty, "first wrong inputs: \(wrong.prefix(5))")
    }

    @Test func agreesWithTheKernelsOnGGUFValues() {
        // The same functions the C kernels use for F16 rows and Q4/Q8 scales.
        #expect(HalfFloat.float(f16: 0x3C00) == 1)
        #expect(HalfFloat.float(f16: 0x0001) == 0x1p-24)
        #expect(HalfFloat.f16(65520) == 0x7C00)
        #expect(HalfFloat.f16(-0.0) == 0x8000)
        #expect(HalfFloat.f16(.nan) == 0x7E00)
        #expect(HalfFloat.bf16(-.nan) & 0x7FC0 == 0x7FC0)
        var row = [UInt16](repeating: 0, count: 4)
        let values: [Float] = [1, -2, 0x1p-20, 70000]
        ck_quantize_row(Int32(CK_F16.rawValue), values, &row, 4)
        #expect(row == values.map(HalfFloat.f16))
    }
}
