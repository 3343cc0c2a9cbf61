import Foundation
import Synchronization
import Testing

@testable import ColonyCollectives

/// Every operation on groups of 1–4 ranks, against a sequential reference computed here:
/// the ranks' contributions, each rounded through the wire, added in rank order.
@Suite struct InProcessCollectiveTests {
    static let sizes = [1, 2, 3, 4]
    static let counts = [1, 7, 1000]

    /// Rank `rank`'s deterministic values: mixed signs and full mantissas, so that f16 and
    /// bf16 rounding and the summation order both show in the result.
    static func values(rank: Int, count: Int, salt: Int = 0) -> [Float] {
        (0..<count).map { i in
            let k = UInt32(truncatingIfNeeded: (i &* 2_654_435_761) ^ ((rank + 1) &* 40_503) ^ (salt &* 97))
            return (Float(k % 100_000) / 12_500 - 4) * (1 + Float(rank) * 0.1)
        }
    }

    /// The reduction of every rank's `values` over `range`, as the contract defines it.
    static func reference(size: Int, count: Int, range: Range<Int>, op: ReduceOp, wire: WireFormat) -> [Float] {
        let inputs = (0..<size).map { values(rank: $0, count: count) }
        return range.map { i in
            var sum = WireKernels.roundTripReference(inputs[0][i], wire)
            for r in 1..<size { sum += WireKernels.roundTripReference(inputs[r][i], wire) }
            return op == .average ? sum / Float(size) : sum
        }
    }

    static func bits(_ values: [Float]) -> [UInt32] { values.map(\.bitPattern) }

    @Test(arguments: sizes, counts)
    func allReduce(size: Int, count: Int) throws {
        for op in [ReduceOp.sum, .average] {
            for wire in WireFormat.allCases {
                let results = try InProcessCollective.run(size: size) { c in
                    var buffer = Self.values(rank: c.rank, count: count)
                    try c.allReduce(&buffer, count: count, op: op, wire: wire)
                    return buffer
                }
                let expected = Self.reference(size: size, count: count, range: 0..<count, op: op, wire: wire)
                for r in 0..<size {
                    #expect(Self.bits(results[r]) == Self.bits(expected), "rank \(r), \(op), \(wire)")
                }
                // The wire's rounding stays within its unit roundoff of the exact f32 result.
                let exact = Self.reference(size: size, count: count, range: 0..<count, op: op, wire: .f32)
                let u: Float =
                    switch wire {
                    case .f32: 0
                    case .f16: 0x1p-11
                    case .bf16: 0x1p-8
                    }
                let bound = (0..<size).map { Self.values(rank: $0, count: count).map(abs) }
                for i in 0..<count {
                    var magnitude = bound.reduce(0) { $0 + $1[i] }
                    if op == .average { magnitude /= Float(size) }
                    #expect(abs(results[0][i] - exact[i]) <= magnitude * u * 1.0001, "value \(i), \(op), \(wire)")
                }
            }
        }
    }

    @Test func sixteenBitWiresRoundTheContributions() throws {
        let count = 1000
        let results = try InProcessCollective.run(size: 2) { c in
            try WireFormat.allCases.map { wire in
                var buffer = Self.values(rank: c.rank, count: count)
                try c.allReduce(&buffer, count: count, op: .sum, wire: wire)
                return buffer
            }
        }
        let (f32, f16, bf16) = (results[0][0], results[0][1], results[0][2])
        #expect(f16 != f32)
        #expect(bf16 != f32)
        #expect(bf16 != f16)
    }

    @Test(arguments: sizes, counts)
    func reduceScatter(size: Int, shardCount: Int) throws {
        for op in [ReduceOp.sum, .average] {
            for wire in WireFormat.allCases {
                let results = try InProcessCollective.run(size: size) { c in
                    let input = Self.values(rank: c.rank, count: size * shardCount)
                    var output = [Float](repeating: .nan, count: shardCount)
                    try c.reduceScatter(input, &output, shardCount: shardCount, op: op, wire: wire)
                    return output
                }
                for r in 0..<size {
                    let expected = Self.reference(
                        size: size, count: size * shardCount,
                        range: (r * shardCount)..<((r + 1) * shardCount), op: op, wire: wire)
                    #expect(Self.bits(results[r]) == Self.bits(expected), "rank \(r), \(op), \(wire)")
                }
            }
        }
    }

    @Test(arguments: sizes, counts)
    func allGather(size: Int, shardCount: Int) throws {
        for wire in WireFormat.allCases {
            let results = try InProcessCollective.run(size: size) { c in
                let shard = Self.values(rank: c.rank, count: shardCount)
                var output = [Float](repeating: .nan, count: size * shardCount)
                try c.allGather(shard, &output, shardCount: shardCount, wire: wire)
                return output
            }
            let expected = (0..<size).flatMap { r in
                Self.values(rank: r, count: shardCount).map { WireKernels.roundTripReference($0, wire) }
            }
            for r in 0..<size {
                #expect(Self.bits(results[r]) == Self.bits(expected), "rank \(r), \(wire)")
            }
        }
    }

    @Test(arguments: sizes, counts)
    func broadcast(size: Int, count: Int) throws {
        for root in 0..<size {
            let results = try InProcessCollective.run(size: size) { c in
                var buffer = Self.values(rank: c.rank, count: count)
                try c.broadcast(&buffer, count: count, root: root)
                return buffer
            }
            for r in 0..<size {
                #expect(Self.bits(results[r]) == Self.bits(Self.values(rank: root, count: count)), "rank \(r), root \(root)")
            }
        }
    }

    @Test(arguments: sizes)
    func barrierHoldsEveryRankUntilAllArrive(size: Int) throws {
        let arrivals = Shared(0)
        let rounds = 100
        // What each rank counted right after each barrier: every rank had arrived for this
        // round, and nobody can have passed the next barrier yet.
        let seen = try InProcessCollective.run(size: size) { c in
            try (1...rounds).map { round in
                arrivals.value.withLock { $0 += 1 }
                try c.barrier()
                return arrivals.value.withLock { $0 } - round * size
            }
        }
        for r in 0..<size {
            #expect(seen[r].allSatisfy { (0..<size).contains($0) }, "rank \(r): \(seen[r])")
        }
    }

    @Test func manyCollectivesInARowReuseTheGroup() throws {
        let results = try InProcessCollective.run(size: 3) { c in
            var wrong = 0
            for step in 0..<200 {
                let count = [1, 7, 1000, 3][step % 4]
                let inputs = (0..<3).map { Self.values(rank: $0, count: count, salt: step) }
                var buffer = inputs[c.rank]
                try c.allReduce(&buffer, count: count, op: .sum, wire: .f32)
                let expected = (0..<count).map { i in inputs[0][i] + inputs[1][i] + inputs[2][i] }
                if Self.bits(buffer) != Self.bits(expected) { wrong += 1 }
            }
            return wrong
        }
        #expect(results == [0, 0, 0])
    }

    // MARK: - Errors

    @Test func mismatchedCountsThrowOnEveryRank() throws {
        let errors = try InProcessCollective.run(size: 3) { c in
            var buffer = [Float](repeating: 1, count: 8)
            do {
                try c.allReduce(&buffer, count: c.rank == 1 ? 8 : 7, op: .sum, wire: .f32)
                return "no error"
            } catch let error as CollectiveError {
                return error.description
            }
        }
        let message =
            "ranks called different collectives: rank 0 called allReduce(count: 7, op: sum, wire: f32), rank 1 called allReduce(count: 8, op: sum, wire: f32); every rank must make the same calls in the same order"
        #expect(errors == [message, message, message])
    }

    @Test func differentOperationsThrowOnEveryRank() throws {
        let errors = try InProcessCollective.run(size: 2) { c in
            var buffer = [Float](repeating: 1, count: 4)
            do {
                if c.rank == 0 {
                    try c.barrier()
                } else {
                    try c.broadcast(&buffer, count: 4, root: 0)
                }
                return "no error"
            } catch let error as CollectiveError {
                return error.description
            }
        }
        let message =
            "ranks called different collectives: rank 0 called barrier(count: 0), rank 1 called broadcast(count: 4, root: 0); every rank must make the same calls in the same order"
        #expect(errors == [message, message])
    }

    @Test func broadcastRootOutsideTheGroupThrows() throws {
        let errors = try InProcessCollective.run(size: 2) { c in
            var buffer: [Float] = [1]
            do {
                try c.broadcast(&buffer, count: 1, root: 2)
                return "no error"
            } catch let error as CollectiveError {
                return error.description
            }
        }
        #expect(errors == Array(repeating: "broadcast root 2 is not a rank of this group of 2", count: 2))
    }

    struct RankFailure: Error, Equatable {}

    @Test func aFailingRankReleasesTheOthers() throws {
        let othersSaw = Shared<[String]>([])
        #expect(throws: RankFailure()) {
            _ = try InProcessCollective.run(size: 3) { c in
                if c.rank == 1 { throw RankFailure() }
                var buffer: [Float] = [1]
                do {
                    try c.allReduce(&buffer, count: 1, op: .sum, wire: .f32)
                } catch {
                    othersSaw.value.withLock { $0.append("\(error)") }
                    throw error
                }
            }
        }
        let expected = "rank 1 of the in-process group failed (RankFailure()), so the group cannot complete collectives"
        #expect(othersSaw.value.withLock { $0 } == [expected, expected])
    }

    @Test func aRankThatStopsEarlyReleasesTheOthers() throws {
        #expect(
            throws: CollectiveError(
                "rank 1 of the in-process group finished while others still called collectives; every rank must make the same calls in the same order"
            )
        ) {
            _ = try InProcessCollective.run(size: 2) { c in
                var buffer: [Float] = [1]
                for _ in 0..<(c.rank == 1 ? 1 : 2) {
                    try c.allReduce(&buffer, count: 1, op: .sum, wire: .f32)
                }
                return buffer[0]
            }
        }
    }

    @Test func sendsArriveInOrderBetweenEachPair() throws {
        let received = try InProcessCollective.run(size: 3) { c in
            // Everyone sends to everyone first (sends are buffered), then receives.
            for peer in 0..<c.size where peer != c.rank {
                for m in 0..<3 { try c.send([Float(c.rank * 10 + m), Float(peer)], count: 2, to: peer) }
            }
            var got: [[Float]] = []
            for peer in 0..<c.size where peer != c.rank {
                for _ in 0..<3 {
                    var buffer = [Float](repeating: -1, count: 2)
                    try c.receive(&buffer, count: 2, from: peer)
                    got.append(buffer)
                }
            }
            return got
        }
        for (rank, got) in received.enumerated() {
            let expected = (0..<3).filter { $0 != rank }.flatMap { peer in (0..<3).map { [Float(peer * 10 + $0), Float(rank)] } }
            #expect(got == expected, "rank \(rank)")
        }
    }

    @Test func aReceiveOfTheWrongSizeOrPeerThrows() throws {
        #expect(throws: CollectiveError("rank 1 expected 3 values from rank 0, which sent 2; sends and receives must agree on sizes")) {
            _ = try InProcessCollective.run(size: 2) { c in
                if c.rank == 0 {
                    try c.send([1, 2], count: 2, to: 1)
                } else {
                    var buffer = [Float](repeating: 0, count: 3)
                    try c.receive(&buffer, count: 3, from: 0)
                }
            }
        }
        let solo = InProcessCollective.group(size: 2)[0]
        #expect(throws: CollectiveError("rank 0 cannot send to rank 0: the peer must be another rank of this group of 2")) {
            try solo.send([1], count: 1, to: 0)
        }
    }

    @Test func aRankThatFinishesLeavesMessagesBetweenOthersFlowing() throws {
        // Rank 1 sends to rank 0 and finishes before rank 2's message to rank 0 is sent.
        let got = try InProcessCollective.run(size: 3) { c in
            switch c.rank {
            case 1:
                try c.send([1], count: 1, to: 0)
            case 2:
                Thread.sleep(forTimeInterval: 0.05)
                try c.send([2], count: 1, to: 0)
            default:
                var a: [Float] = [0]
                var b: [Float] = [0]
                Thread.sleep(forTimeInterval: 0.02)
                try c.receive(&b, count: 1, from: 2)
                try c.receive(&a, count: 1, from: 1)
                return a + b
            }
            return []
        }
        #expect(got[0] == [1, 2])
        #expect(
            throws: CollectiveError(
                "rank 0 waits for a message from rank 1, which finished without sending it; every receive needs a matching send")
        ) {
            _ = try InProcessCollective.run(size: 2) { c in
                guard c.rank == 0 else { return }
                var buffer: [Float] = [0]
                try c.receive(&buffer, count: 1, from: 1)
            }
        }
    }

    @Test func splitFormsGroupsByColorOrderedByKey() throws {
        let outcomes = try InProcessCollective.run(size: 5) { c in
            // Odd and even ranks (rank 0 stays out), ordered by descending world rank.
            let group = try c.split(color: c.rank == 0 ? nil : c.rank % 2, key: -c.rank)
            // The world still meets after the split, and sub-groups do not mix their calls.
            try c.barrier()
            guard let group else { return [Float(-1)] }
            var sum = [Float(c.rank)]
            try group.allReduce(&sum, count: 1, op: .sum, wire: .f32)
            var from: [Float] = [-1]
            if group.rank == 0 { try group.send([Float(c.rank)], count: 1, to: 1) } else { try group.receive(&from, count: 1, from: 0) }
            return [Float(group.rank), Float(group.size), sum[0], from[0]]
        }
        #expect(outcomes[0] == [-1])
        #expect(outcomes[1] == [1, 2, 4, 3] && outcomes[3] == [0, 2, 4, -1])
        #expect(outcomes[2] == [1, 2, 6, 4] && outcomes[4] == [0, 2, 6, -1])
    }

    @Test func aGroupOfOneNeedsNoOtherThread() throws {
        let solo = InProcessCollective.group(size: 1)[0]
        var buffer: [Float] = [1.5, -2]
        try solo.allReduce(&buffer, count: 2, op: .average, wire: .f32)
        try solo.barrier()
        #expect(buffer == [1.5, -2])
        #expect(solo.rank == 0 && solo.size == 1)
    }
}

/// State the rank threads of a test share (a class: a `Mutex` cannot be copied into the
/// ranks' closures).
final class Shared<T: Sendable>: Sendable {
    let value: Mutex<T>
    init(_ initial: T) { value = Mutex(initial) }
}
