import ColonyEngine

/// A worker's numbered record of its prefix-cache events: the last `capacity` of them for
/// replay, and the set of blocks cached now for dumps. A router that missed events asks
/// for the ones after its last id and gets them, or a dump when they are gone.
public struct KVEventLog: Sendable {
    /// Events kept for replay.
    public let capacity: Int
    /// The id of the newest event (0 before the first).
    public private(set) var lastID: UInt64 = 0
    /// Every block hash cached now.
    public private(set) var cached: Set<PrefixHash> = []
    private var recent: [KVEvent] = []
    /// Index in `recent` of the oldest event kept (the buffer is a ring once full).
    private var head = 0

    public init(capacity: Int = 10_000) {
        precondition(capacity > 0, "a KV event log keeps at least one event")
        self.capacity = capacity
    }

    /// Numbers an event, keeps it for replay and applies it to `cached`; returns its update.
    @discardableResult
    public mutating func append(_ event: KVEvent) -> KVUpdate {
        lastID += 1
        switch event {
        case .stored(let hashes, _, _): cached.formUnion(hashes)
        case .removed(let hashes): cached.subtract(hashes)
        case .cleared: cached = []
        }
        if recent.count < capacity {
            recent.append(event)
        } else {
            recent[head] = event
            head = (head + 1) % capacity
        }
        return .event(id: lastID, event)
    }

    /// What a subscriber that has applied everything up to `id` needs: the events after it,
    /// or one dump when some of them are no longer kept (or `id` is 0, or unknown).
    public func updates(after id: UInt64) -> [KVUpdate] {
        let oldest = lastID - UInt64(recent.count) + 1
        guard id > 0, id <= lastID, id + 1 >= oldest else { return [dump] }
        return (id + 1..<lastID + 1).map { eventID in
            let offset = Int(eventID - oldest)
            return .event(id: eventID, recent[(head + offset) % recent.count])
        }
    }

    /// The whole cache as of the newest event.
    public var dump: KVUpdate { .dump(id: lastID, cached.sorted { $0.value < $1.value }) }
}
