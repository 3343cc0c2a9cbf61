/// Counts of a histogram with fixed upper bounds, in seconds (Prometheus style: each
/// bucket counts observations ≤ its bound, cumulatively when rendered).
public struct LatencyHistogram: Sendable, Equatable {
    public static let bounds: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
    /// Observations per bucket (not cumulative); the last entry counts those above every bound.
    public private(set) var counts = [Int](repeating: 0, count: bounds.count + 1)
    public private(set) var sum = 0.0
    public private(set) var count = 0

    public init() {}

    public mutating func observe(_ seconds: Double) {
        counts[Self.bounds.firstIndex { seconds <= $0 } ?? Self.bounds.count] += 1
        sum += seconds
        count += 1
    }

    /// The value below which a share `q` of observations fall, at bucket resolution.
    public func quantile(_ q: Double) -> Double {
        guard count > 0 else { return 0 }
        var seen = 0
        for (i, c) in counts.enumerated() {
            seen += c
            if Double(seen) >= q * Double(count) { return i < Self.bounds.count ? Self.bounds[i] : .infinity }
        }
        return .infinity
    }
}

/// A snapshot of the engine for `/metrics` and tests.
public struct EngineStats: Sendable, Equatable {
    public var waiting = 0
    public var running = 0
    public var kvBlocksUsed = 0
    public var kvBlocksFree = 0
    /// Prompt tokens waiting for prefill (see `Scheduler.queuedPrefillTokens`).
    public var queuedPrefillTokens = 0
    public var prefixCacheHitRate = 0.0
    public var promptTokens = 0
    public var generatedTokens = 0
    public var preemptions = 0
    /// Finished requests by finish reason ("stop", "length", "cancelled", …).
    public var finished: [String: Int] = [:]
    public var timeToFirstToken = LatencyHistogram()
    public var interTokenLatency = LatencyHistogram()
    public var steps = 0

    public init() {}
}
