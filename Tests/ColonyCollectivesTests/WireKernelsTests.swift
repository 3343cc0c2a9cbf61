import Testing

@testable import ColonyCollectives

@Suite struct WireKernelsTests {
    // The scalar conversions the loops use are tested in ColonyTensorTests (HalfFloatTests).

    @Test(arguments: [WireFormat.f16, .bf16])
    func loopsMatchTheScalarReference(_ wire: WireFormat) {
        let n = 1001
        let a = (0..<n).map { Float($0) * 0.37 - 150 }
        let b = (0..<n).map { Float($0 % 97) * -1.13 + 0.01 }
        var encoded = [UInt16](repeating: 0, count: n)
        var decoded = [Float](repeating: 0, count: n)
        WireKernels.encode(a, &encoded, count: n, wire: wire)
        WireKernels.decode(encoded, &decoded, count: n, wire: wire)
        #expect(decoded == a.map { WireKernels.roundTripReference($0, wire) })

        var roundTripped = [Float](repeating: 0, count: n)
        WireKernels.roundTrip(a, &roundTripped, count: n, wire: wire)
        #expect(roundTripped == decoded)

        var sum = b
        WireKernels.accumulate(a, into: &sum, count: n, wire: wire)
        #expect(sum == (0..<n).map { b[$0] + WireKernels.roundTripReference(a[$0], wire) })

        var encodedSum = b.map { WireKernels.encode($0, wire) }
        WireKernels.addEncoded(encoded, into: &encodedSum, count: n, wire: wire)
        let expected = (0..<n).map {
            WireKernels.roundTripReference(WireKernels.roundTripReference(a[$0], wire) + WireKernels.roundTripReference(b[$0], wire), wire)
        }
        #expect(encodedSum.map { WireKernels.decode($0, wire) } == expected)
    }
}
