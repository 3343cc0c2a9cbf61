import Foundation
import Hummingbird

/// Outcomes per model version: every response this server gave (its latency, whether it
/// failed) and the feedback clients post for it (`POST /v1/feedback`), so versions under an
/// A/B split can be compared and a gate can decide between them.
///
/// A response id is remembered for the last `capacity` responses; feedback for an older one,
/// for an id this server never gave, or a second time for the same id, is refused with a
/// message saying which.
public actor FeedbackLedger {
    /// What one version did.
    public struct Tally: Sendable, Equatable, Codable {
        public var requests = 0
        public var errors = 0
        /// Responses that got feedback, and how many of those succeeded.
        public var feedback = 0
        public var successes = 0
        public var rewardSum = 0.0
        public var latencySum = 0.0
        /// Latencies of the newest responses (at most 1,000), for percentiles.
        public var recentLatencies: [Double] = []

        public init() {}
    }

    public let capacity: Int
    private var versionOf: [String: String] = [:]
    private var order: [String] = []
    private var oldest = 0
    private var answered: Set<String> = []
    private var tallies: [String: Tally] = [:]

    public init(capacity: Int = 100_000) { self.capacity = capacity }

    /// Records a response of `version` (`failed`: it ended in an error).
    public func served(response: String, version: String, latency: Double, failed: Bool) {
        var t = tallies[version, default: Tally()]
        t.requests += 1
        if failed { t.errors += 1 }
        t.latencySum += latency
        t.recentLatencies.append(latency)
        if t.recentLatencies.count > 1_000 { t.recentLatencies.removeFirst(t.recentLatencies.count - 1_000) }
        tallies[version] = t
        guard !failed else { return }
        versionOf[response] = version
        order.append(response)
        if order.count - oldest > capacity {
            versionOf[order[oldest]] = nil
            answered.remove(order[oldest])
            oldest += 1
            if oldest > capacity {
                order.removeFirst(oldest)
                oldest = 0
            }
        }
    }

    /// Records feedback for response `id`: `success` (default: `reward > 0`) and `reward`.
    /// Returns the version that gave the response.
    public func record(id: String, reward: Double?, success: Bool?) throws -> String {
        guard let version = versionOf[id] else {
            throw APIError(
                status: .notFound,
                message: "no response '\(id)' to give feedback on: ids are those of this server's last \(capacity) completed responses",
                param: "id")
        }
        guard !answered.contains(id) else {
            throw APIError(status: .conflict, message: "response '\(id)' already has feedback; each response takes it once", param: "id")
        }
        answered.insert(id)
        var t = tallies[version, default: Tally()]
        t.feedback += 1
        if success ?? ((reward ?? 0) > 0) { t.successes += 1 }
        t.rewardSum += reward ?? 0
        tallies[version] = t
        return version
    }

    /// Every version's tally.
    public func snapshot() -> [String: Tally] { tallies }
}
