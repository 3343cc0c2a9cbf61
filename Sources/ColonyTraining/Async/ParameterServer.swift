import ColonyCollectives

/// One parameter server: holds a shard of the flat parameters (and, for `ps`, the
/// optimiser state of that shard) and answers workers in the order their messages arrive
/// until every worker is done; then sends the shard to rank 0.
public final class ParameterServer {
    /// What a server did over the run.
    public struct Report: Sendable, Equatable {
        /// The shard's version at the end: updates, merged deltas and syncs applied.
        public var version = 0
        public var applied = 0
        /// Updates older than `maxStaleness` versions.
        public var rejectedStale = 0
        /// Updates computed on a version the shard never had.
        public var rejectedConflict = 0
        /// Values this server sent (4 bytes each).
        public var valuesSent = 0
    }

    let configuration: AsynchronousConfiguration
    let training: TrainingConfiguration
    let shard: Variable
    let optimizer: any Optimizer
    /// Hybrid: what each worker holds of this shard (the sum of the changes sent to it).
    var mirrors: [[Float]]
    public private(set) var report = Report()

    /// The server of `configuration.world.rank`, starting from `trainer`'s parameters
    /// (every rank loads the same model).
    public init(trainer: Trainer, configuration: AsynchronousConfiguration) {
        self.configuration = configuration
        training = trainer.config
        let flat = trainer.flatParameters
        let range = configuration.shard(configuration.world.rank - configuration.workers, of: flat.count)
        shard = Variable(rows: 1, cols: range.count, value: Array(flat[range]), requiresGrad: true)
        optimizer = training.makeOptimizer()
        mirrors = Array(repeating: shard.value, count: configuration.workers)
    }

    /// Serves until every worker has sent `done`; returns the tallies.
    ///
    /// - Throws: `CollectiveError` from the transport; `TrainingError` for a message that
    ///   does not fit this shard.
    @discardableResult
    public func serve() throws -> Report {
        let world = configuration.world
        let workers = configuration.workers
        var done = 0
        var syncing: [Int: [Float]] = [:]
        func send(_ message: ExchangeMessage, to rank: Int) throws {
            let slots = message.encoded
            report.valuesSent += slots.count
            try world.send(slots, count: slots.count, to: rank)
        }
        func checked(_ values: [Float], _ what: String, from source: Int) throws -> [Float] {
            guard values.count == shard.count else {
                throw TrainingError.invalidArgument(
                    "rank \(source) sent a \(what) of \(values.count) values to a shard of \(shard.count); every rank must load the same model"
                )
            }
            return values
        }
        while done < workers {
            let (source, slots) = try world.receiveFromAny()
            switch try ExchangeMessage(slots) {
            case .gradient(let basedOn, let values):
                let applied = try apply(checked(values, "gradient", from: source), basedOn: basedOn)
                try send(.parameters(version: report.version, applied: applied, values: shard.value), to: source)
            case .delta(let packed):
                let delta = try configuration.codec.decode(packed[...], count: shard.count)
                // Each worker's change is its progress from a common start: the mean over
                // workers is what a synchronous average would give.
                let weight = 1 / Float(workers)
                for i in 0..<shard.count { shard.value[i] += delta[i] * weight }
                report.version += 1
                report.applied += 1
                try send(.change(version: report.version, packed: change(for: source)), to: source)
            case .sync(let values):
                syncing[source] = try checked(values, "sync", from: source)
                guard syncing.count == workers else { continue }
                // Summed in worker order, so the mean does not depend on arrival order.
                var mean = [Float](repeating: 0, count: shard.count)
                for w in 0..<workers { for (i, v) in syncing[w]!.enumerated() { mean[i] += v } }
                for i in 0..<mean.count { mean[i] /= Float(workers) }
                shard.value = mean
                report.version += 1
                syncing = [:]
                for w in 0..<workers {
                    mirrors[w] = mean
                    try send(.parameters(version: report.version, applied: true, values: mean), to: w)
                }
            case .done:
                done += 1
            case .parameters, .change, .final:
                throw TrainingError.invalidArgument("rank \(source) sent a server's reply to a server")
            }
        }
        try send(
            .final(
                version: report.version, applied: report.applied, rejected: report.rejectedStale + report.rejectedConflict,
                values: shard.value), to: 0)
        return report
    }

    /// Applies a `ps` gradient computed on version `basedOn` under the staleness rule;
    /// returns whether it was applied.
    func apply(_ gradient: [Float], basedOn: Int) throws -> Bool {
        switch configuration.rule.decide(current: report.version, basedOn: basedOn) {
        case .apply(let scale):
            shard.grad = gradient
            // The schedule runs in worker steps: `workers` updates make one.
            let lr = training.schedule.rate(at: report.version / configuration.workers) * scale
            optimizer.step([shard], lr: lr)
            shard.zeroGrad()
            report.version += 1
            report.applied += 1
            return true
        case .rejectStale:
            report.rejectedStale += 1
            return false
        case .rejectConflict:
            report.rejectedConflict += 1
            return false
        }
    }

    /// Hybrid: the packed change of the shard since `worker` last heard from this server.
    /// The mirror advances by what the packing kept, so what it dropped goes next time.
    func change(for worker: Int) throws -> [Float] {
        let codec = configuration.codec
        let difference = zip(shard.value, mirrors[worker]).map { $0 - $1 }
        let packed = codec.encode(difference)
        let sent = try codec.decode(packed[...], count: difference.count)
        for i in 0..<sent.count { mirrors[worker][i] += sent[i] }
        return packed
    }
}
