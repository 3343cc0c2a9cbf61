import ColonyCollectives

/// What a worker's exchange with the parameter servers did in one step.
public struct ExchangeReport: Sendable, Equatable {
    /// The newest shard version this worker has seen (summed over servers).
    public var version = 0
    /// Of this worker's updates so far, how many the servers rejected as too stale.
    public var rejected = 0
    /// Bytes this worker sent in the step.
    public var bytesSent = 0
}

/// A worker's side of asynchronous training: its view of each server's shard version and,
/// for hybrid, of the shards' values (`base`) and what its packed deltas left out
/// (`residual`, sent with the next one).
final class WorkerExchange {
    let configuration: AsynchronousConfiguration
    private var versions: [Int]
    private var base: [Float]
    private var residual: [Float]
    private(set) var rejected = 0

    init(configuration: AsynchronousConfiguration, initial: [Float]) {
        self.configuration = configuration
        versions = Array(repeating: 0, count: configuration.servers)
        base = initial
        residual = Array(repeating: 0, count: initial.count)
    }

    private var world: any Collective { configuration.world }

    private func send(_ message: ExchangeMessage, toServer s: Int) throws -> Int {
        let slots = message.encoded
        try world.send(slots, count: slots.count, to: configuration.serverRank(s))
        return 4 * slots.count
    }

    /// One reply from every server, indexed by server (they may arrive in any order).
    private func replies() throws -> [ExchangeMessage] {
        var replies = [ExchangeMessage?](repeating: nil, count: configuration.servers)
        for _ in 0..<configuration.servers {
            let (source, slots) = try world.receiveFromAny()
            let s = source - configuration.workers
            guard (0..<configuration.servers).contains(s), replies[s] == nil else {
                throw TrainingError.invalidArgument(
                    "worker \(world.rank) got a message from rank \(source) while waiting for the servers' replies")
            }
            replies[s] = try ExchangeMessage(slots)
        }
        return replies.map { $0! }
    }

    private func shard(_ s: Int) -> Range<Int> { configuration.shard(s, of: base.count) }

    /// `ps`: pushes `gradient` (flat, final) to every server and returns the parameters
    /// they send back.
    func push(gradient: [Float]) throws -> (parameters: [Float], report: ExchangeReport) {
        var bytes = 0
        for s in 0..<configuration.servers {
            bytes += try send(.gradient(basedOn: versions[s], values: Array(gradient[shard(s)])), toServer: s)
        }
        var parameters = base
        for (s, reply) in try replies().enumerated() {
            guard case .parameters(let version, let applied, let values) = reply, values.count == shard(s).count
            else { throw TrainingError.invalidArgument("server \(s) answered a gradient with something else") }
            if !applied { rejected += 1 }
            versions[s] = version
            parameters.replaceSubrange(shard(s), with: values)
        }
        base = parameters
        return (parameters, report(bytes))
    }

    /// Hybrid: sends the change of `local` since the last exchange (with what earlier
    /// packings left out), and returns the parameters to go on from: the servers' shards
    /// as this worker now knows them.
    func exchangeDelta(local: [Float]) throws -> (parameters: [Float], report: ExchangeReport) {
        let codec = configuration.codec
        var bytes = 0
        for s in 0..<configuration.servers {
            let range = shard(s)
            let delta = range.map { local[$0] - base[$0] + residual[$0] }
            let packed = codec.encode(delta)
            let sent = try codec.decode(packed[...], count: delta.count)
            for (j, i) in range.enumerated() { residual[i] = delta[j] - sent[j] }
            bytes += try send(.delta(packed: packed), toServer: s)
        }
        for (s, reply) in try replies().enumerated() {
            let range = shard(s)
            guard case .change(let version, let packed) = reply else {
                throw TrainingError.invalidArgument("server \(s) answered a delta with something else")
            }
            let change = try codec.decode(packed[...], count: range.count)
            for (j, i) in range.enumerated() { base[i] += change[j] }
            versions[s] = version
        }
        return (base, report(bytes))
    }

    /// Hybrid: full synchronisation. Sends `local` (with what packings left out) in f32 and
    /// returns the mean over all workers.
    func synchronize(local: [Float]) throws -> (parameters: [Float], report: ExchangeReport) {
        var bytes = 0
        for s in 0..<configuration.servers {
            bytes += try send(.sync(values: shard(s).map { local[$0] + residual[$0] }), toServer: s)
        }
        for (s, reply) in try replies().enumerated() {
            guard case .parameters(let version, _, let values) = reply, values.count == shard(s).count else {
                throw TrainingError.invalidArgument("server \(s) answered a sync with something else")
            }
            base.replaceSubrange(shard(s), with: values)
            versions[s] = version
        }
        residual = Array(repeating: 0, count: residual.count)
        return (base, report(bytes))
    }

    /// Tells every server this worker is done. On rank 0, returns the final parameters and
    /// the servers' tallies (applied, rejected); nil elsewhere.
    func finish() throws -> (parameters: [Float], applied: Int, rejected: Int)? {
        for s in 0..<configuration.servers { _ = try send(.done, toServer: s) }
        guard world.rank == 0 else { return nil }
        var parameters = base
        var (applied, rejected) = (0, 0)
        for (s, reply) in try replies().enumerated() {
            guard case .final(_, let a, let r, let values) = reply, values.count == shard(s).count else {
                throw TrainingError.invalidArgument("server \(s) ended without its final shard")
            }
            parameters.replaceSubrange(shard(s), with: values)
            applied += a
            rejected += r
        }
        return (parameters, applied, rejected)
    }

    /// The report of a step without an exchange.
    var quiet: ExchangeReport { report(0) }

    private func report(_ bytes: Int) -> ExchangeReport {
        ExchangeReport(version: versions.reduce(0, +), rejected: rejected, bytesSent: bytes)
    }
}
