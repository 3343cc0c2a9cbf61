import ColonyEngine

/// One change to a worker's prefix cache as the router receives it: a numbered event, or a
/// dump of everything the worker caches (sent on a first subscription, or when the worker
/// can no longer replay the events a router missed).
public enum KVUpdate: Sendable, Equatable {
    case event(id: UInt64, KVEvent)
    /// The whole cache as of event `id`; it replaces what was known about the worker.
    case dump(id: UInt64, [PrefixHash])

    public var id: UInt64 {
        switch self {
        case .event(let id, _), .dump(let id, _): id
        }
    }
}

/// The router's view of which worker caches which prefix blocks, built from each worker's
/// exact events (not guessed from routing history, as approximate routers do).
///
/// Events of a worker must arrive in id order with no gaps; `apply` reports a gap instead of
/// applying past it, and the caller asks that worker for a replay or a dump. A worker that
/// leaves is fenced out with `remove`, so cache affinity never picks a dead worker.
public struct KVIndex: Sendable {
    private var holders: [PrefixHash: Set<String>] = [:]
    private var blocks: [String: Set<PrefixHash>] = [:]
    /// The id of the last update applied, per worker.
    public private(set) var lastEventID: [String: UInt64] = [:]

    /// What `apply` did with an update.
    public enum Outcome: Sendable, Equatable {
        case applied
        /// Already applied (an update at or below the last id): ignored.
        case duplicate
        /// Updates were missed: `expected` is the next id the index can take.
        case gap(expected: UInt64, received: UInt64)
    }

    public init() {}

    /// Applies one update from `worker`. A dump always applies; an event only when it is
    /// the next one after the last id applied.
    public mutating func apply(_ update: KVUpdate, from worker: String) -> Outcome {
        let last = lastEventID[worker] ?? 0
        switch update {
        case .dump(let id, let hashes):
            replace(worker, with: Set(hashes))
            lastEventID[worker] = id
            return .applied
        case .event(let id, let event):
            if id <= last { return .duplicate }
            if id != last + 1 { return .gap(expected: last + 1, received: id) }
            lastEventID[worker] = id
            switch event {
            case .stored(let hashes, _, _): for h in hashes { add(h, worker) }
            case .removed(let hashes): for h in hashes { drop(h, worker) }
            case .cleared: replace(worker, with: [])
            }
            return .applied
        }
    }

    /// Forgets `worker` entirely, as if it had never cached anything.
    public mutating func remove(_ worker: String) {
        replace(worker, with: [])
        blocks[worker] = nil
        lastEventID[worker] = nil
    }

    /// How many leading blocks of a prompt `worker` holds: the prefix it can reuse (a chain
    /// stops at the first block it lacks, as the engine's prefix match does).
    public func matchedBlocks(_ hashes: [PrefixHash], on worker: String) -> Int {
        guard let held = blocks[worker] else { return 0 }
        var n = 0
        while n < hashes.count, held.contains(hashes[n]) { n += 1 }
        return n
    }

    /// `matchedBlocks` for every worker that holds at least the first block, in one walk
    /// down the prompt: the cost follows the workers that still match, not all workers ×
    /// all blocks.
    public func matchedBlocks(_ hashes: [PrefixHash]) -> [String: Int] {
        guard let first = hashes.first, var alive = holders[first] else { return [:] }
        var matched: [String: Int] = [:]
        for (i, h) in hashes.enumerated() {
            if i > 0 { alive.formIntersection(holders[h] ?? []) }
            if alive.isEmpty { break }
            for w in alive { matched[w] = i + 1 }
        }
        return matched
    }

    /// Blocks cached on `worker`.
    public func blockCount(of worker: String) -> Int { blocks[worker]?.count ?? 0 }

    /// Workers that cache the block `hash`.
    public func holders(of hash: PrefixHash) -> Set<String> { holders[hash] ?? [] }

    private mutating func add(_ hash: PrefixHash, _ worker: String) {
        blocks[worker, default: []].insert(hash)
        holders[hash, default: []].insert(worker)
    }

    private mutating func drop(_ hash: PrefixHash, _ worker: String) {
        blocks[worker]?.remove(hash)
        holders[hash]?.remove(worker)
        if holders[hash]?.isEmpty == true { holders[hash] = nil }
    }

    private mutating func replace(_ worker: String, with new: Set<PrefixHash>) {
        for h in blocks[worker] ?? [] where !new.contains(h) { drop(h, worker) }
        for h in new { add(h, worker) }
        if blocks[worker] == nil { blocks[worker] = [] }
    }
}
