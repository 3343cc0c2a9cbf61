import ColonyEngine
import ColonyRouting
import Foundation

/// Numbers a worker engine's prefix-cache events and fans them out to subscribers (routers),
/// each of which starts with a replay of what it missed or a dump.
actor KVEventHub {
    private var log: KVEventLog
    private var subscribers: [UUID: AsyncStream<KVUpdate>.Continuation] = [:]
    /// The engine stopped: no more events will come.
    private var ended = false

    init(capacity: Int = 10_000) { log = KVEventLog(capacity: capacity) }

    /// The id of the newest event.
    var lastID: UInt64 { log.lastID }

    /// Takes the engine's events until it stops, then ends every subscription.
    func consume(_ events: AsyncStream<KVEvent>) async {
        for await event in events {
            let update = log.append(event)
            for c in subscribers.values { c.yield(update) }
        }
        ended = true
        for c in subscribers.values { c.finish() }
        subscribers = [:]
    }

    /// Updates after `id` (a replay or a dump), then live ones. A subscriber that falls more
    /// than `buffer` updates behind loses the oldest and sees a gap, which it answers by
    /// subscribing again from its last id.
    func subscribe(after id: UInt64, buffer: Int = 4096) -> AsyncStream<KVUpdate> {
        // Room for a full replay on top of the live buffer, so the replay itself never overflows.
        let (stream, continuation) = AsyncStream<KVUpdate>.makeStream(bufferingPolicy: .bufferingNewest(log.capacity + buffer))
        for update in log.updates(after: id) { continuation.yield(update) }
        // A router that subscribes after the engine stopped (a drain) gets what there is and
        // an end, not a stream that stays open and holds up the server's shutdown.
        if ended {
            continuation.finish()
            return stream
        }
        let key = UUID()
        subscribers[key] = continuation
        continuation.onTermination = { _ in Task { await self.unsubscribe(key) } }
        return stream
    }

    private func unsubscribe(_ key: UUID) { subscribers[key] = nil }
}
