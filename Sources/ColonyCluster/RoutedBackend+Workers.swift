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
                state.withLock { s in
                    guard var m = s.members[id] else { return }
                    if let old = m.status, old.pid != status.pid { s.index.remove(id) }  // a new process: its cache is new
                    m.status = status
                    if let refusal {
                        if m.state != .dead { logger.error("worker \(id) refused: \(refusal)") }
                        m.state = .dead
                        m.detail = refusal
                        s.index.remove(id)
                    } else {
                        m.state = status.state == MemberState.draining.rawValue ? .draining : .ready
                        m.detail = nil
                    }
                    s.members[id] = m
                }
            } catch {
                if !Task.isCancelled { state.withLock { $0.markSuspect(id, "status call failed: \(Self.describe(error))") } }
            }
            try? await Task.sleep(for: configuration.pollInterval)
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
