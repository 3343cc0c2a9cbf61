/// What workers and parameter servers send each other: a small header of integers (as
/// `UInt32` bits in `Float` slots, since a `Collective` carries floats) and a payload.
enum ExchangeMessage: Equatable {
    // Worker → server.
    /// A gradient (f32) of the shard computed on `basedOn`.
    case gradient(basedOn: Int, values: [Float])
    /// A packed change of the shard since the worker's last exchange (`DeltaCodec`).
    case delta(packed: [Float])
    /// The worker's whole shard (f32), for a full synchronisation.
    case sync(values: [Float])
    /// The worker has taken its last step.
    case done

    // Server → worker.
    /// The shard after an update was applied (or rejected), at `version`.
    case parameters(version: Int, applied: Bool, values: [Float])
    /// The packed change of the shard since the worker last heard from this server.
    case change(version: Int, packed: [Float])
    /// The shard at the end of the run, with the server's tallies.
    case final(version: Int, applied: Int, rejected: Int, values: [Float])

    private var header: [Int] {
        switch self {
        case .gradient(let basedOn, _): return [0, basedOn]
        case .delta: return [1]
        case .sync: return [2]
        case .done: return [3]
        case .parameters(let version, let applied, _): return [4, version, applied ? 1 : 0]
        case .change(let version, _): return [5, version]
        case .final(let version, let applied, let rejected, _): return [6, version, applied, rejected]
        }
    }

    private var payload: [Float] {
        switch self {
        case .gradient(_, let v), .delta(let v), .sync(let v), .parameters(_, _, let v), .change(_, let v), .final(_, _, _, let v): return v
        case .done: return []
        }
    }

    /// The message as the floats that travel: header length, header, payload.
    var encoded: [Float] {
        let header = header
        return ([header.count] + header).map { Float(bitPattern: UInt32($0)) } + payload
    }

    /// The message `slots` carry.
    ///
    /// - Throws: `TrainingError.invalidArgument` when they carry none.
    init(_ slots: [Float]) throws(TrainingError) {
        func damaged() -> TrainingError { .invalidArgument("a parameter-server message of \(slots.count) values is damaged") }
        guard let first = slots.first else { throw damaged() }
        let n = Int(first.bitPattern)
        guard n >= 1, slots.count > n else { throw damaged() }
        let h = slots[1...n].map { Int($0.bitPattern) }
        let payload = Array(slots[(n + 1)...])
        switch (h[0], n) {
        case (0, 2): self = .gradient(basedOn: h[1], values: payload)
        case (1, 1): self = .delta(packed: payload)
        case (2, 1): self = .sync(values: payload)
        case (3, 1): self = .done
        case (4, 3): self = .parameters(version: h[1], applied: h[2] != 0, values: payload)
        case (5, 2): self = .change(version: h[1], packed: payload)
        case (6, 4): self = .final(version: h[1], applied: h[2], rejected: h[3], values: payload)
        default: throw damaged()
        }
    }
}
