import ColonyEngine
import ColonyRouting
import Foundation

/// How fast the routing policy decides, with many mock workers whose caches overlap the
/// prompts partially: what a router's CPU costs per request, network left out.
public struct RoutingBench: Sendable {
    public var workers = 64
    public var decisions = 100_000
    /// Blocks per prompt (16 tokens each).
    public var promptBlocks = 64

    public init() {}

    /// Routes `decisions` prompts drawn from 256 distinct prefixes under each strategy.
    public func run() -> Report {
        let prompts = (0..<256).map { p in
            PrefixHash.blocks(of: (0..<(promptBlocks * 16)).map { ($0 * 7 + p * 131) % 30_000 }, blockSize: 16)
        }
        var index = KVIndex()
        var rng = SystemRandomNumberGenerator()
        for w in 0..<workers {
            // Each worker caches some prefix of a quarter of the prompts.
            var held: [PrefixHash] = []
            for p in prompts.indices where p % 4 == w % 4 { held += prompts[p].prefix(Int.random(in: 0...promptBlocks, using: &rng)) }
            _ = index.apply(.dump(id: 1, held), from: "w\(w)")
        }
        let loads = (0..<workers).map {
            WorkerLoad(id: "w\($0)", inFlight: Int.random(in: 0..<8, using: &rng), activeBlocks: Int.random(in: 0..<200, using: &rng))
        }
        var rows: [Report.Row] = []
        for strategy in RoutingStrategy.allCases {
            var policy = RoutingPolicy(strategy: strategy)
            let start = Date()
            var checksum = 0
            for i in 0..<decisions {
                let d = policy.route(
                    RouteRequest(promptBlocks: prompts[i % prompts.count], session: nil), workers: loads, index: index, now: start)
                checksum &+= d?.cachedBlocks ?? 0
            }
            let seconds = Date().timeIntervalSince(start)
            rows.append(
                Report.Row(
                    policy: strategy.rawValue, decisionsPerSecond: Double(decisions) / seconds,
                    microsecondsEach: seconds / Double(decisions) * 1e6, meanCachedBlocks: Double(checksum) / Double(decisions)))
        }
        return Report(workers: workers, promptBlocks: promptBlocks, decisions: decisions, results: rows)
    }

    /// Decisions per second per strategy.
    public struct Report: PrintableReport, Equatable {
        public struct Row: Codable, Sendable, Equatable {
            public var policy: String
            public var decisionsPerSecond: Double
            public var microsecondsEach: Double
            /// Mean prompt blocks the chosen worker caches: what the decision bought.
            public var meanCachedBlocks: Double

            enum CodingKeys: String, CodingKey {
                case policy
                case decisionsPerSecond = "decisions_per_second"
                case microsecondsEach = "microseconds_each"
                case meanCachedBlocks = "mean_cached_blocks"
            }
        }

        public var workers: Int
        public var promptBlocks: Int
        public var decisions: Int
        public var results: [Row]

        enum CodingKeys: String, CodingKey {
            case workers, decisions, results
            case promptBlocks = "prompt_blocks"
        }

        public var table: String {
            var out = "routing decisions, \(workers) mock workers, prompts of \(promptBlocks) blocks, \(decisions) decisions each\n"
            out +=
                "policy".padding(toLength: 12, withPad: " ", startingAt: 0) + "decisions/s".leftPadded(14) + "µs each".leftPadded(10)
                + "cached blocks".leftPadded(15) + "\n"
            for r in results {
                out +=
                    r.policy.padding(toLength: 12, withPad: " ", startingAt: 0)
                    + String(format: "%14.0f%10.2f%15.1f\n", r.decisionsPerSecond, r.microsecondsEach, r.meanCachedBlocks)
            }
            return out
        }
    }
}
