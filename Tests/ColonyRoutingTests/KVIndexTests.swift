import ColonyEngine
import ColonyModels
import Testing

@testable import ColonyRouting

@Suite("KV index and event log: exact events, gaps, replays and dumps")
struct KVIndexTests {
    let h = PrefixHash.blocks(of: Array(0..<96), blockSize: 16)  // 6 blocks

    @Test("stored, removed and cleared events update which worker holds which prefix")
    func events() {
        var index = KVIndex()
        #expect(index.apply(.event(id: 1, .stored(hashes: Array(h[0..<4]), parent: nil, blockSize: 16)), from: "w1") == .applied)
        #expect(index.apply(.event(id: 1, .stored(hashes: Array(h[0..<2]), parent: nil, blockSize: 16)), from: "w2") == .applied)
        #expect(index.matchedBlocks(h, on: "w1") == 4)
        #expect(index.matchedBlocks(h, on: "w2") == 2)
        #expect(index.holders(of: h[1]) == ["w1", "w2"])
        // A removed middle block breaks the chain there, as in the engine's prefix match.
        #expect(index.apply(.event(id: 2, .removed([h[2]])), from: "w1") == .applied)
        #expect(index.matchedBlocks(h, on: "w1") == 2)
        #expect(index.apply(.event(id: 3, .cleared), from: "w1") == .applied)
        #expect(index.matchedBlocks(h, on: "w1") == 0)
        #expect(index.holders(of: h[0]) == ["w2"])
    }

    @Test("an event after a gap is not applied; duplicates are ignored; a dump resets the worker")
    func gaps() {
        var index = KVIndex()
        _ = index.apply(.event(id: 1, .stored(hashes: [h[0]], parent: nil, blockSize: 16)), from: "w")
        #expect(
            index.apply(.event(id: 3, .stored(hashes: [h[1]], parent: h[0], blockSize: 16)), from: "w") == .gap(expected: 2, received: 3))
        #expect(index.matchedBlocks(h, on: "w") == 1)
        #expect(index.apply(.event(id: 1, .cleared), from: "w") == .duplicate)
        #expect(index.apply(.dump(id: 7, Array(h[0..<3])), from: "w") == .applied)
        #expect(index.lastEventID["w"] == 7)
        #expect(index.matchedBlocks(h, on: "w") == 3)
        #expect(index.apply(.event(id: 8, .removed([h[0]])), from: "w") == .applied)
        #expect(index.matchedBlocks(h, on: "w") == 0)
    }

    @Test("matching every worker in one walk agrees with matching each worker alone")
    func matchAll() {
        var index = KVIndex()
        var rng = SplitMix64(seed: 7)
        for w in 0..<12 {
            // Each worker holds a random subset, so chains break at different places.
            let held = h.filter { _ in rng.next() % 4 != 0 }
            _ = index.apply(.dump(id: 1, held), from: "w\(w)")
        }
        let all = index.matchedBlocks(h)
        for w in 0..<12 {
            let alone = index.matchedBlocks(h, on: "w\(w)")
            #expect((all["w\(w)"] ?? 0) == alone)
        }
        #expect(all.values.contains { $0 > 1 })
    }

    @Test("removing a worker fences it out of every block")
    func remove() {
        var index = KVIndex()
        _ = index.apply(.dump(id: 4, h), from: "dead")
        index.remove("dead")
        #expect(index.matchedBlocks(h, on: "dead") == 0)
        #expect(h.allSatisfy { index.holders(of: $0).isEmpty })
        #expect(index.lastEventID["dead"] == nil)
    }

    @Test("the event log replays what a subscriber missed, and dumps when it no longer holds it")
    func logReplay() {
        var log = KVEventLog(capacity: 3)
        #expect(log.updates(after: 0) == [.dump(id: 0, [])])
        for i in 0..<5 { log.append(.stored(hashes: [h[i]], parent: i == 0 ? nil : h[i - 1], blockSize: 16)) }
        log.append(.removed([h[0]]))
        // ids 4, 5, 6 are kept.
        #expect(log.updates(after: 6) == [])
        #expect(log.updates(after: 4).map(\.id) == [5, 6])
        #expect(log.updates(after: 3).map(\.id) == [4, 5, 6])
        #expect(log.updates(after: 3).last == .event(id: 6, .removed([h[0]])))
        let dump = log.updates(after: 2)
        #expect(dump.count == 1)
        #expect(dump.first?.id == 6)
        if case .dump(_, let hashes)? = dump.first { #expect(Set(hashes) == Set(h[1..<5])) } else { Issue.record("expected a dump") }
        // An id from the future (another incarnation of the worker): a dump.
        #expect(log.updates(after: 99).first?.id == 6)
    }

    @Test("an index fed by a log's replays and dumps ends equal to the log's cache")
    func indexFollowsLog() {
        var log = KVEventLog(capacity: 4)
        var index = KVIndex()
        var delivered = 0
        for round in 0..<20 {
            let i = round % 6
            log.append(round % 5 == 4 ? .removed([h[i]]) : .stored(hashes: [h[i]], parent: nil, blockSize: 16))
            // Deliveries 2 and 7 rounds apart: replays, and dumps once the log lost events.
            guard [2, 4, 11, 13, 19].contains(round) else { continue }
            for u in log.updates(after: index.lastEventID["w"] ?? 0) {
                #expect(index.apply(u, from: "w") == .applied)
                delivered += 1
            }
            #expect(Set(h.filter { index.holders(of: $0).contains("w") }) == log.cached)
        }
        #expect(delivered > 0)
    }
}
