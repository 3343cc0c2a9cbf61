import ColonyEngine
import ColonyModels
import Foundation
import GRPCCore
import Synchronization

/// Why a routed request failed after its worker accepted it.
public struct WorkerFailure: Error, CustomStringConvertible {
    public let worker: String
    public let reason: String
    public var description: String { "worker '\(worker)' failed: \(reason)" }
}

/// One routed request in flight: the worker's token ids in, engine events out, with a
/// deadline on every wait and the load it was charged given back however it ends.
struct Relay: Sendable {
    let backend: RoutedBackend
    let request: EngineRequest
    let wire: WireRequest
    let worker: String
    let connection: WorkerConnection
    /// KV blocks charged when routed.
    let blocks: Int
    /// Prompt tokens the router expects the worker to reuse, reported when the router
    /// itself ends the request (a stop string) before the worker's own count arrives.
    let cachedEstimate: Int
    let events: AsyncThrowingStream<EngineEvent, Error>.Continuation
    let admit: AsyncStream<EngineError?>.Continuation

    /// What the call, the watchdog and the cleanup share.
    private final class Shared: Sendable {
        let progress: Mutex<Progress>
        init(_ p: Progress) { progress = Mutex(p) }
    }

    private struct Progress {
        var last = ContinuousClock.now
        var started = false
        var held: Int
        var output: RoutedOutput
        var finished: (FinishReason, Usage)?
        var settled = false
    }

    func run() async {
        let shared = Shared(Progress(held: blocks, output: RoutedOutput(tokenizer: backend.tokenizer, stopStrings: request.stopStrings)))
        defer {
            settle(shared)
            admit.finish()
        }
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await call(shared) }
                group.addTask { try await watchdog(shared) }
                try await group.next()
                group.cancelAll()
            }
            if shared.progress.withLock({ $0.finished == nil }) {
                // The client went away (or the request was cancelled) before the end.
                events.finish()
            }
        } catch {
            let refusal = (error as? RPCError)?.engineError
            if let refusal, !shared.progress.withLock({ $0.started }) {
                admit.yield(refusal)
                events.finish(throwing: refusal)
                return
            }
            admit.yield(nil)
            if Task.isCancelled || (error as? RPCError)?.code == .cancelled {
                events.finish()
                return
            }
            let why = RoutedBackend.describe(error)
            backend.state.withLock { $0.markSuspect(worker, why) }
            backend.logger.warning("request \(request.id) on \(worker): \(why)")
            events.finish(throwing: WorkerFailure(worker: worker, reason: why))
        }
    }

    /// Gives back the load this request was charged and records how it ended: once, and
    /// before the client sees the end, so the next request routes on settled counts.
    private func settle(_ shared: Shared) {
        let (held, finished, first) = shared.progress.withLock { p in
            defer { p.settled = true }
            return (p.held, p.finished, !p.settled)
        }
        guard first else { return }
        backend.state.withLock { s in
            s.release(worker, blocks: held)
            s.record(
                finished?.0 ?? .cancelled,
                finished?.1 ?? Usage(promptTokens: request.promptTokens.count, completionTokens: 0, cachedPromptTokens: 0))
        }
        backend.requestEnded(request.id)
    }

    private func call(_ shared: Shared) async throws {
        let b = backend.configuration.blockSize
        let promptTokens = request.promptTokens.count
        try await connection.stub.generate(wire) { response in
            for try await message in response.messages {
                let first = shared.progress.withLock { p in
                    p.last = ContinuousClock.now
                    defer { p.started = true }
                    return !p.started
                }
                if first {
                    admit.yield(nil)
                    backend.state.withLock { $0.stats.timeToFirstToken.observe(Date().timeIntervalSince(request.arrival)) }
                }
                switch message.event {
                case .token(let t)?:
                    let (text, stopped, grew) = shared.progress.withLock { p in
                        let (text, stopped) = p.output.append(Int(t))
                        let grew = (promptTokens + p.output.generated) % b == 0
                        if grew { p.held += 1 }
                        if stopped {
                            p.finished = (
                                .stop,
                                Usage(promptTokens: promptTokens, completionTokens: p.output.generated, cachedPromptTokens: cachedEstimate)
                            )
                        }
                        return (text, stopped, grew)
                    }
                    if grew { backend.state.withLock { $0.members[worker]?.activeBlocks += 1 } }
                    events.yield(.token(id: Int(t), text: text))
                    if stopped {
                        let usage = shared.progress.withLock { $0.finished!.1 }
                        settle(shared)
                        events.yield(.finished(.stop, usage, trailingText: ""))
                        events.finish()
                        return  // ends the call, which cancels the request on the worker
                    }
                case .finished(let f)?:
                    let reason = FinishReason(rawValue: f.reason) ?? .stop
                    let usage = Usage(
                        promptTokens: Int(f.promptTokens), completionTokens: Int(f.completionTokens),
                        cachedPromptTokens: Int(f.cachedPromptTokens))
                    let tail = shared.progress.withLock { p in
                        p.finished = (reason, usage)
                        return p.output.flush()
                    }
                    settle(shared)
                    events.yield(.finished(reason, usage, trailingText: tail))
                    events.finish()
                    return
                case nil:
                    continue
                }
            }
            throw RPCError(code: .dataLoss, message: "the stream ended without a finish event")
        }
    }

    /// Throws when the worker is silent too long: before the first token, or between tokens.
    private func watchdog(_ shared: Shared) async throws {
        let config = backend.configuration
        while true {
            try await Task.sleep(for: .milliseconds(100))
            let (last, started) = shared.progress.withLock { ($0.last, $0.started) }
            let limit = started ? config.tokenGapTimeout : config.firstTokenTimeout
            if ContinuousClock.now - last > limit {
                throw RPCError(
                    code: .deadlineExceeded, message: "no token for \(limit) (\(started ? "between tokens" : "before the first"))")
            }
        }
    }
}
