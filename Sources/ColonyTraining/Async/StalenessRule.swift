/// What a parameter server does with a gradient computed on an older version of its shard.
///
/// The rule: an update `s` versions stale (s = the shard's version now − the version it
/// was computed on) is rejected when s > `maxStaleness`, and otherwise applied with its
/// learning rate divided by 1 + s. Dividing is the staleness-aware rule of Zhang et al.
/// (2016, "Staleness-aware Async-SGD"): a stale gradient points where the model was, so it
/// is damped in proportion to how far the model has moved since, but its work is still
/// used. Past the bound it is dropped rather than applied, since its direction may no
/// longer hold; the rejection is counted, reported to the worker (which pulls fresh
/// parameters and goes on) and logged, so no update disappears without trace.
///
/// A version ahead of the shard's is a conflict (the worker saw a shard this server never
/// had, e.g. from before a restart): rejected too, with its own reason.
public struct StalenessRule: Sendable, Equatable {
    /// The oldest update applied, in versions behind the shard.
    public var maxStaleness: Int

    /// - Throws: `TrainingError.invalidArgument` when `maxStaleness` is negative.
    public init(maxStaleness: Int) throws(TrainingError) {
        guard maxStaleness >= 0 else { throw .invalidArgument("--max-staleness must be ≥ 0, got \(maxStaleness)") }
        self.maxStaleness = maxStaleness
    }

    public enum Decision: Equatable, Sendable {
        /// Apply with the learning rate multiplied by `scale`.
        case apply(scale: Float)
        /// Too old: `staleness` versions behind.
        case rejectStale(staleness: Int)
        /// Computed on a version the shard never had.
        case rejectConflict(ahead: Int)
    }

    /// The decision for an update computed on version `basedOn` of a shard now at `current`.
    public func decide(current: Int, basedOn: Int) -> Decision {
        let staleness = current - basedOn
        if staleness < 0 { return .rejectConflict(ahead: -staleness) }
        if staleness > maxStaleness { return .rejectStale(staleness: staleness) }
        return .apply(scale: 1 / Float(1 + staleness))
    }
}
