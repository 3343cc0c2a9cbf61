/// What the `--elastic` supervisor does when its MPI job ends badly: restart it from the
/// newest checkpoint at full size when enough ranks are offered, wait up to
/// `rejoinTimeout` for a replacement when not, then go on with the ranks that remain.
///
/// Only deaths by a signal (SIGKILL, a lost host, the OOM killer) are restarted. A rank
/// that exits with an error status found a problem a restart would meet again (bad data,
/// a full disk), so the supervisor stops and says so.
public struct ElasticPolicy: Sendable, Equatable {
    /// Ranks the job wants.
    public var ranks: Int
    /// Seconds to wait for a replacement before shrinking.
    public var rejoinTimeout: Double
    /// Restarts allowed over the run.
    public var maxRestarts: Int

    /// - Throws: `TrainingError.invalidArgument` naming the option out of range.
    public init(ranks: Int, rejoinTimeout: Double, maxRestarts: Int) throws(TrainingError) {
        guard ranks >= 1 else { throw .invalidArgument("--ranks must be ≥ 1, got \(ranks)") }
        guard rejoinTimeout >= 0 else { throw .invalidArgument("--rejoin-timeout must be ≥ 0 seconds, got \(rejoinTimeout)") }
        guard maxRestarts >= 0 else { throw .invalidArgument("--max-restarts must be ≥ 0, got \(maxRestarts)") }
        self.ranks = ranks
        self.rejoinTimeout = rejoinTimeout
        self.maxRestarts = maxRestarts
    }

    /// How an MPI job ended badly.
    public enum Failure: Equatable, Sendable {
        /// Rank `rank` died of `signal`.
        case killed(rank: Int, signal: Int)
        /// The job failed without a rank dying of a signal; `status` is mpirun's.
        case exited(status: Int32)

        /// Reads mpirun's report (OpenMPI: "process rank 1 with PID 7 on node a exited on
        /// signal 9 (Killed)") from the end of its output.
        public static func parse(_ output: String, status: Int32) -> Failure {
            let marker = "noticed that process rank "
            guard let found = output.range(of: marker, options: .backwards) else { return .exited(status: status) }
            let words = output[found.upperBound...].split(whereSeparator: \.isWhitespace)
            guard let rank = words.first.flatMap({ Int($0) }), let at = words.firstIndex(of: "signal"), at + 1 < words.count,
                let signal = Int(words[at + 1])
            else { return .exited(status: status) }
            return .killed(rank: rank, signal: signal)
        }
    }

    public enum Decision: Equatable, Sendable {
        /// Start the job again with `ranks` ranks, from the newest checkpoint.
        case restart(ranks: Int)
        /// Look again shortly: a replacement may still come.
        case wait
        /// Stop, for `reason`.
        case giveUp(reason: String)
    }

    /// The decision `waited` seconds after `failure`, with `available` ranks offered now
    /// (the dead ones not counted) and `restarts` restarts made so far.
    public func decide(_ failure: Failure, available: Int, waited: Double, restarts: Int) -> Decision {
        if case .exited(let status) = failure {
            return .giveUp(
                reason:
                    "the job failed with status \(status) and no rank was killed: an error a restart would meet again (its message is above)"
            )
        }
        guard restarts < maxRestarts else { return .giveUp(reason: "it has been restarted \(restarts) times (--max-restarts)") }
        if available >= ranks { return .restart(ranks: ranks) }
        if waited < rejoinTimeout { return .wait }
        guard available >= 1 else { return .giveUp(reason: "no ranks are left to restart with") }
        return .restart(ranks: available)
    }
}
