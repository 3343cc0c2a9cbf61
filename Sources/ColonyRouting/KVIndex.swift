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
    /// Each block's holders as a bit set over worker slots, so matching a prompt against
    /// every worker is one AND per block, whatever the number of workers.
    private var holders: [PrefixHash: WorkerBits] = [:]
    private var blocks: [String: Set<PrefixHash>] = [:]
    private var slots: [String: Int] = [:]
    private var names: [String?] = []
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
        if let i = slots.removeValue(forKey: worker) { names[i] = nil }
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
    /// down the prompt.
    public func matchedBlocks(_ hashes: [PrefixHash]) -> [String: Int] {
        guard let first = hashes.first, var alive = holders[first] else { return [:] }
        var matched: [String: Int] = [:]
        var depth = 1
        for h in hashes.dropFirst() {
            guard let next = holders[h]?.intersection(alive), !next.isEmpty else { break }
            alive.subtract(next)
            for i in alive.members { matched[names[i]!] = depth }
            alive = next
            depth += 1
        }
        for i in alive.members { matched[names[i]!] = depth }
        return matched
    }

    /// Blocks cached on `worker`.
    public func blockCount(of worker: String) -> Int { blocks[worker]?.count ?? 0 }

    /// Workers that cache the block `hash`.
    public func holders(of hash: PrefixHash) -> Set<String> { Set(holders[hash]?.members.map { names[$0]! } ?? []) }

    private mutating func slot(of worker: String) -> Int {
        if let i = slots[worker] { return i }
        let i = names.firstIndex(of: nil) ?? names.count
        if i == names.count { names.append(worker) } else { names[i] = worker }
        slots[worker] = i
        return i
    }

    private mutating func add(_ hash: PrefixHash, _ worker: String) {
        blocks[worker, default: []].insert(hash)
        holders[hash, default: WorkerBits()].insert(slot(of: worker))
    }

    private mutating func drop(_ hash: PrefixHash, _ worker: String) {
        blocks[worker]?.remove(hash)
        guard let i = slots[worker] else { return }
        holders[hash]?.remove(i)
        if holders[hash]?.isEmpty == true { holders[hash] = nil }
    }

    private mutating func replace(_ worker: String, with new: Set<PrefixHash>) {
        for h in blocks[worker] ?? [] where !new.contains(h) { drop(h, worker) }
        for h in new { add(h, worker) }
        if blocks[worker] == nil { blocks[worker] = [] }
    }
}

/// A set of worker slots, one bit each.
struct WorkerBits: Sendable, Equatable {
    private var words: [UInt64] = []

    var isEmpty: Bool { words.allSatisfy { $0 == 0 } }

    mutating func insert(_ i: Int) {
        while words.count <= i / 64 { words.append(0) }
        words[i / 64] |= 1 << UInt64(i % 64)
    }

    mutating func remove(_ i: Int) {
        guard i / 64 < words.count else { return }
        words[i / 64] &= ~(1 << UInt64(i % 64))
    }

    func intersection(_ other: WorkerBits) -> WorkerBits {
        var r = WorkerBits()
        r.words = zip(words, other.words).map { $0 & $1 }
        return r
    }

    mutating func subtract(_ other: WorkerBits) {
        for i in words.indices where i < other.words.count { words[i] &= ~other.words[i] }
    }

    /// The slots in the set, in order.
    var members: [Int] {
        var out: [Int] = []
        for (w, word) in words.enumerated() {
            var rest = word
            while rest != 0 {
                out.append(w * 64 + rest.trailingZeroBitCount)
                rest &= rest - 1
            }
        }
        return out
    }
}
