import ColonyEngine
import Foundation
import Testing

@testable import ColonyRouting

@Suite("routing policies: round-robin, least-load, kv cost, sessions, imbalance guard")
struct RoutingPolicyTests {
    let t0 = Date(timeIntervalSince1970: 1_000_000)
    let prompt = PrefixHash.blocks(of: Array(0..<64), blockSize: 16)  // 4 blocks

    func loads(_ pairs: (String, Int, Int)...) -> [WorkerLoad] { pairs.map { WorkerLoad(id: $0.0, inFlight: $0.1, activeBlocks: $0.2) } }

    /// An index where `worker` holds the first `n` blocks of `prompt`.
    func index(_ holdings: [String: Int]) -> KVIndex {
        var index = KVIndex()
        for (w, n) in holdings where n > 0 {
            _ = index.apply(.event(id: 1, .stored(hashes: Array(prompt.prefix(n)), parent: nil, blockSize: 16)), from: w)
        }
        return index
    }

    @Test("round-robin takes each worker in turn, in id order, and ignores sessions and cache")
    func roundRobin() {
        var p = RoutingPolicy(strategy: .roundRobin)
        let ws = loads(("b", 0, 0), ("a", 5, 50), ("c", 0, 0))
        let picks = (0..<6).map { _ in
            p.route(RouteRequest(promptBlocks: prompt, session: "s"), workers: ws, index: index(["c": 4]), now: t0)!.worker
        }
        #expect(picks == ["a", "b", "c", "a", "b", "c"])
    }

    @Test("least-load picks the fewest requests in flight, then the fewest blocks, then the id")
    func leastLoad() {
        var p = RoutingPolicy(strategy: .leastLoad)
        let d = p.route(
            RouteRequest(promptBlocks: prompt), workers: loads(("a", 2, 1), ("b", 1, 9), ("c", 1, 3)), index: index(["a": 4]), now: t0)
        #expect(d == RoutingDecision(worker: "c", reason: .leastLoad, cachedBlocks: 0))
        let tie = p.route(RouteRequest(promptBlocks: prompt), workers: loads(("z", 0, 0), ("y", 0, 0)), index: KVIndex(), now: t0)
        #expect(tie?.worker == "y")
    }

    @Test("kv cost is α·(prompt blocks not cached) + active blocks: Dynamo's worked example")
    func kvCostExample() {
        // Dynamo's doc: (prefill 8, decode 10), (5, 5), (2, 9) score 18, 10 and 11.
        let long = PrefixHash.blocks(of: Array(0..<(8 * 16)), blockSize: 16)
        var index = KVIndex()
        _ = index.apply(.event(id: 1, .stored(hashes: Array(long.prefix(3)), parent: nil, blockSize: 16)), from: "b")
        _ = index.apply(.event(id: 1, .stored(hashes: Array(long.prefix(6)), parent: nil, blockSize: 16)), from: "c")
        var p = RoutingPolicy(strategy: .kv)
        let d = p.route(RouteRequest(promptBlocks: long), workers: loads(("a", 1, 10), ("b", 1, 5), ("c", 1, 9)), index: index, now: t0)
        #expect(d == RoutingDecision(worker: "b", reason: .kvCost, cachedBlocks: 3))
        // A higher α favours the cache: (8α+10, 5α+5, 2α+9) is lowest at c for α = 2.
        p.kvAlpha = 2
        #expect(
            p.route(RouteRequest(promptBlocks: long), workers: loads(("a", 1, 10), ("b", 1, 5), ("c", 1, 9)), index: index, now: t0)?.worker
                == "c")
    }

    @Test("a session stays on its worker under kv while that worker is routable, and expires after the TTL")
    func sessionAffinity() {
        var p = RoutingPolicy(strategy: .kv, sessionTTL: 60)
        let ws = loads(("a", 0, 0), ("b", 0, 0))
        let first = p.route(RouteRequest(promptBlocks: prompt, session: "u1"), workers: ws, index: index(["b": 4]), now: t0)
        #expect(first == RoutingDecision(worker: "b", reason: .kvCost, cachedBlocks: 4))
        // Later the cache says a, but the session stays on b.
        let again = p.route(RouteRequest(promptBlocks: prompt, session: "u1"), workers: ws, index: index(["a": 4]), now: t0 + 30)
        #expect(again == RoutingDecision(worker: "b", reason: .session, cachedBlocks: 0))
        // b gone: the session moves.
        #expect(
            p.route(RouteRequest(promptBlocks: prompt, session: "u1"), workers: loads(("a", 0, 0)), index: KVIndex(), now: t0 + 40)?.worker
                == "a")
        // Expired: routed by cost again.
        let late = p.route(RouteRequest(promptBlocks: prompt, session: "u1"), workers: ws, index: index(["b": 4]), now: t0 + 200)
        #expect(late?.reason == .kvCost)
        #expect(late?.worker == "b")
    }

    @Test("the imbalance guard keeps affinity from piling load on one worker, and keeps affinity within the allowed set")
    func imbalanceGuard() {
        var p = RoutingPolicy(strategy: .kv, imbalanceGuard: ImbalanceGuard(absolute: 4, relative: 1.5))
        // a caches everything but has 10 in flight against 0 and 3: only b and c qualify.
        var idx = index(["a": 4, "c": 2])
        let d = p.route(RouteRequest(promptBlocks: prompt), workers: loads(("a", 10, 0), ("b", 0, 0), ("c", 3, 0)), index: idx, now: t0)
        #expect(d == RoutingDecision(worker: "c", reason: .imbalance, cachedBlocks: 2))
        // Balanced (difference within the absolute bound): affinity wins.
        idx = index(["a": 4])
        #expect(p.route(RouteRequest(promptBlocks: prompt), workers: loads(("a", 4, 0), ("b", 0, 0)), index: idx, now: t0)?.worker == "a")
        // A session whose worker is overloaded is not followed there.
        _ = p.route(RouteRequest(promptBlocks: prompt, session: "s"), workers: loads(("a", 0, 0), ("b", 0, 0)), index: idx, now: t0)
        let moved = p.route(
            RouteRequest(promptBlocks: prompt, session: "s"), workers: loads(("a", 20, 0), ("b", 0, 0)), index: idx, now: t0)
        #expect(moved == RoutingDecision(worker: "b", reason: .imbalance, cachedBlocks: 0))
    }

    @Test("the guard needs both the absolute and the relative gap")
    func guardBounds() {
        let g = ImbalanceGuard(absolute: 8, relative: 1.5)
        #expect(g.restrict(loads(("a", 100, 0), ("b", 95, 0))) == nil)  // relative gap only 1.05
        #expect(g.restrict(loads(("a", 6, 0), ("b", 0, 0))) == nil)  // absolute gap only 6
        #expect(g.restrict(loads(("a", 20, 0), ("b", 0, 0), ("c", 8, 0)))?.map(\.id) == ["b", "c"])
    }

    @Test("a request passes over the workers it failed on while another is routable, then tries them again")
    func avoiding() {
        for s in [RoutingStrategy.roundRobin, .leastLoad, .kv] {
            var p = RoutingPolicy(strategy: s)
            let ws = loads(("a", 0, 0), ("b", 3, 30), ("c", 0, 0))
            let failedOnTwo = RouteRequest(promptBlocks: prompt, avoiding: ["a", "c"])
            #expect(p.route(failedOnTwo, workers: ws, index: index(["a": 4]), now: t0)?.worker == "b", "\(s)")
            // Every routable worker was failed on: they answered since, so one of them takes it.
            let failedOnAll = RouteRequest(promptBlocks: prompt, avoiding: ["a", "b", "c", "gone"])
            #expect(p.route(failedOnAll, workers: ws, index: index(["a": 4]), now: t0) != nil, "\(s)")
        }
    }

    @Test("no workers, no decision")
    func empty() {
        for s in RoutingStrategy.allCases {
            var p = RoutingPolicy(strategy: s)
            #expect(p.route(RouteRequest(promptBlocks: prompt), workers: [], index: KVIndex(), now: t0) == nil)
        }
    }
}
