/// Keeps cache affinity from piling load on one worker (SGLang's rule): load is imbalanced
/// when the busiest worker has more than `absolute` requests more than the idlest **and**
/// more than `relative` times as many. Then only workers within `absolute` of the idlest are
/// candidates, and affinity still picks among them (so the hit rate does not collapse
/// under load, as it does when the fallback ignores the cache).
public struct ImbalanceGuard: Sendable, Equatable {
    public var absolute: Int
    public var relative: Double

    public init(absolute: Int = 8, relative: Double = 1.5) {
        self.absolute = absolute
        self.relative = relative
    }

    /// The workers allowed when load is imbalanced, or nil when it is not.
    public func restrict(_ workers: [WorkerLoad]) -> [WorkerLoad]? {
        guard let low = workers.map(\.inFlight).min(), let high = workers.map(\.inFlight).max() else { return nil }
        guard high - low > absolute, Double(high) > relative * Double(low) else { return nil }
        return workers.filter { $0.inFlight <= low + absolute }
    }
}
