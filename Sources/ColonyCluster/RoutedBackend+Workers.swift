import ColonyRouting
import Foundation
import GRPCCore

extension RoutedBackend {
    /// Polls a worker's status until its connection closes: a worker that answers is ready
    /// (or draining); one that stops answering in time is suspect, out of routing and out of
    /// the KV index, until it answers again. A worker serving another model is refused.
    func followStatus(_ c: WorkerConnection) async {
        let id = c.member.id
        while !Task.isCancelled {
            do {
                let status = try await c.stub.status(.init(), options: WorkerConnection.within(configuration.callTimeout))
                let refusal = refusal(of: status, listedAs: id)
                let recovered = state.withLock { s in
                    guard let m = s.members[id] else { return false }
                    guard let refusal else { return s.heard(id, status, now: .now) }
                    if m.state != .dead { logger.error("worker \(id) refused: \(refusal)") }
                    s.members[id]?.status = status
                    s.members[id]?.health.refuse(refusal)
                    s.index.remove(id)
                    return false
                }
                if recovered { logger.notice("worker \(id) answers again and rejoins") }
            } catch {
                if !Task.isCancelled { state.withLock { $0.markSuspect(id, "status call failed: \(Self.describe(error))") } }
            }
            try? await Task.sleep(for: configuration.pollInterval)
        }
    }

    /// Marks suspects silent too long dead and, while a failed active is not yet replaced
    /// and has been down for `deadAfter`, promotes a ready spare in its place.
    func replaceDeadWorkers() async {
        let now = ContinuousClock.now
        let (lost, spare) = state.withLock { s in
            let lost = s.expire(now: now, deadAfter: configuration.deadAfter)
            let due = s.repairs.contains { now - $0.since >= configuration.deadAfter }
            return (lost, due ? s.readySpare : nil)
        }
        for id in lost { logger.error("worker \(id) is dead: \(state.withLock { $0.members[id]?.detail ?? "" })") }
        guard let spare, let c = connections.withLock({ $0[spare] }) else { return }
        do {
            let status = try await c.stub.promote(.init(), options: WorkerConnection.within(configuration.callTimeout))
            state.withLock { $0.heard(spare, status, now: .now) }
            logger.notice("spare \(spare) promoted to active")
        } catch {
            state.withLock { $0.markSuspect(spare, "promotion failed: \(Self.describe(error))") }
        }
    }

    /// Why a worker cannot serve this router's requests, or nil when it can.
    func refusal(of s: WireStatus, listedAs id: String) -> String? {
        if s.id != id { return "it calls itself '\(s.id)' but discovery lists it as '\(id)'" }
        if s.model != configuration.model || s.modelDigest != configuration.modelDigest {
            return
                "it serves model '\(s.model)' (\(s.modelDigest)); this router serves '\(configuration.model)' (\(configuration.modelDigest))"
        }
        if Int(s.blockSize) != configuration.blockSize || s.prefixCacheSalt != (configuration.prefixCacheSalt ?? "") {
            return "its KV blocks of \(s.blockSize) tokens (salt '\(s.prefixCacheSalt)') hash differently from the router's"
        }
        return nil
    }

    /// Applies a worker's KV events to the index while the worker is ready. On a gap it
    /// subscribes again from the last id applied, and the worker replays or dumps.
    func followKVEvents(_ c: WorkerConnection) async {
        let id = c.member.id
        while !Task.isCancelled {
            guard state.withLock({ $0.members[id]?.state == .ready || $0.members[id]?.state == .draining }) else {
                try? await Task.sleep(for: configuration.pollInterval)
                continue
            }
            let after = state.withLock { $0.index.lastEventID[id] ?? 0 }
            do {
                try await c.stub.kvEvents(.with { $0.afterID = after }) { response in
                    for try await batch in response.messages {
                        // A suspect's events wait: it rejoins the index with a dump once it answers.
                        guard self.state.withLock({ $0.members[id]?.state == .ready || $0.members[id]?.state == .draining })
                        else { return }
                        for message in batch.events {
                            guard let update = message.update else { continue }
                            let outcome = self.state.withLock { s in
                                let o = s.index.apply(update, from: id)
                                if case .gap = o { s.kvGaps[id, default: 0] += 1 }
                                return o
                            }
                            if case .gap = outcome { return }
                        }
                    }
                }
            } catch {
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    static func describe(_ error: any Error) -> String {
        if let rpc = error as? RPCError { return "\(rpc.code): \(rpc.message)" }
        return "\(error)"
    }
}
