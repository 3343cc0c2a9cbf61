import ColonyCollectives

/// Training that does not wait for every rank each step: the last `servers` ranks of
/// `world` are parameter servers, each holding a contiguous shard of the flat parameters,
/// and the others are workers that exchange with them.
///
/// - `ps`: asynchronous SGD. Every step a worker pushes its gradient to each server and
///   pulls the shard back; servers apply updates in arrival order under `rule`.
/// - `hybrid`: workers step locally; every `deltaEvery` steps each sends the change since
///   its last exchange, packed by `codec`, and gets the servers' change back the same way;
///   every `syncEvery` steps, and at the last step, all workers synchronise fully (the
///   servers average their whole parameters and send the mean to all).
public struct AsynchronousConfiguration: Sendable {
    public enum Mode: String, Sendable, CaseIterable {
        case ps, hybrid
    }

    public var mode: Mode
    /// Every rank of the job: workers first, then servers.
    public var world: any Collective
    public var servers: Int
    public var rule: StalenessRule
    public var codec: DeltaCodec
    public var deltaEvery: Int
    public var syncEvery: Int

    /// - Throws: `TrainingError.invalidArgument` naming the option that does not fit the world.
    public init(
        mode: Mode, world: any Collective, servers: Int, rule: StalenessRule, codec: DeltaCodec = try! DeltaCodec(),
        deltaEvery: Int = 100, syncEvery: Int = 1000
    ) throws(TrainingError) {
        guard servers >= 1 else { throw .invalidArgument("--parameter-servers must be ≥ 1, got \(servers)") }
        guard world.size > servers else {
            throw .invalidArgument(
                "--parameter-servers \(servers) leaves no worker among \(world.size) ranks; run more ranks (the last \(servers) are servers)"
            )
        }
        guard deltaEvery >= 1 else { throw .invalidArgument("--delta-every must be ≥ 1, got \(deltaEvery)") }
        guard syncEvery >= 1 else { throw .invalidArgument("--sync-every must be ≥ 1, got \(syncEvery)") }
        self.mode = mode
        self.world = world
        self.servers = servers
        self.rule = rule
        self.codec = codec
        self.deltaEvery = deltaEvery
        self.syncEvery = syncEvery
    }

    /// Ranks `0..<workers` are workers.
    public var workers: Int { world.size - servers }

    /// Whether this rank is a parameter server.
    public var isServer: Bool { world.rank >= workers }

    /// The world rank of server `s`.
    func serverRank(_ s: Int) -> Int { workers + s }

    /// The part of a flat parameter vector of `total` values that server `s` holds.
    func shard(_ s: Int, of total: Int) -> Range<Int> {
        let per = (total + servers - 1) / servers
        return min(total, s * per)..<min(total, (s + 1) * per)
    }
}
