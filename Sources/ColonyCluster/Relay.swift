import ColonyEngine
import ColonyModels
import ColonyRouting
import Foundation
import GRPCCore
import Synchronization

/// Why a routed request failed after its worker accepted it, and could not be moved.
public struct WorkerFailure: Error, CustomStringConvertible {
    public let worker: String
    public let reason: String
    public var description: String { "worker '\(worker)' failed: \(reason)" }
}

/// One routed request in flight: the worker's token ids in, engine events out, with a
/// deadline on every wait and the load it was charged given back however it ends.
///
/// When its worker fails mid-stream (the connection breaks, the worker turns suspect,
/// tokens stop coming, or a drain ends it) the relay moves the request to another worker
/// with the prompt and the tokens generated so far (`resumed_tokens`, which also carries the
/// seeded sampler's position), and the client's stream goes on where it stood: the text is
/// made here, so no character is lost or repeated. At most `migrationLimit` moves.
struct Relay: Sendable {
    let backend: RoutedBackend
    let request: EngineRequest
    let wire: WireRequest
    let events: AsyncThrowingStream<EngineEvent, Error>.Continuation
    let admit: AsyncStream<EngineError?>.Continuation

    /// Where the request runs now: the worker, and what it was charged there.
    struct Placement: Sendable {
        var worker: String
        var connection: WorkerConnection
        /// KV blocks charged when routed.
        var blocks: Int
        /// Prompt tokens the router expects the worker to reuse, reported when the router
        /// itself ends the request (a stop string) before the worker's own count arrives.
        var cachedEstimate: Int
    }

    /// What the call, the watchdog and the cleanup share.
    private final class Shared: Sendable {
        let progress: Mutex<Progress>
        init(_ p: Progress) { progress = Mutex(p) }
    }

    private struct Progress {
        var placement: Placement
        var last = ContinuousClock.now
        /// A token reached the client (the request is admitted).
        var started = false
        /// The current worker sent a token.
        var answered = false
        /// Tokens generated before the current worker took over.
        var resumed = 0
        /// When the client got its last token before a move: the pause it sees ends with the
        /// new worker's first token.
        var pausedSince: ContinuousClock.Instant?
        var held: Int
        var output: RoutedOutput
        var finished: (FinishReason, Usage)?
        var settled = false
    }

    func run(on first: Placement) async {
        let shared = Shared(
            Progress(
                placement: first, held: first.blocks,
                output: RoutedOutput(tokenizer: backend.tokenizer, stopStrings: request.stopStrings)))
        defer {
            settle(shared)
            admit.finish()
        }
        var failed: Set<String> = []
        while true {
            do {
                try await attempt(shared)
                if shared.progress.withLock({ $0.finished == nil }) {
                    // The client went away (or the request was cancelled) before the end.
                    events.finish()
                }
                return
            } catch {
                let (placement, started) = shared.progress.withLock { ($0.placement, $0.started) }
                let refusal = (error as? RPCError)?.engineError
                if let refusal, !started, failed.isEmpty {
                    admit.yield(refusal)
                    events.finish(throwing: refusal)
                    return
                }
                if Task.isCancelled || (error as? RPCError)?.code == .cancelled {
                    admit.yield(nil)
                    events.finish()
                    return
                }
                let why = RoutedBackend.describe(error)
                // A refusal (a full queue on the worker taking over) is an answer, not a failure.
                if refusal == nil { backend.state.withLock { $0.markSuspect(placement.worker, why) } }
                if endedBeforeFailure(shared) { return }
                failed.insert(placement.worker)
                guard failed.count <= backend.configuration.migrationLimit else {
                    give(up: "\(why); moved \(failed.count - 1) times (--migration-limit \(backend.configuration.migrationLimit))", shared)
                    return
                }
                do { try await move(shared, avoiding: failed, because: why) } catch {
                    give(up: "\(why); no other worker could take it over: \(error.description)", shared)
                    return
                }
            }
        }
    }

    /// Finishes a request whose last token arrived but whose worker failed before saying it
    /// was done: a length or context limit the router can see for itself. Returns true then.
    private func endedBeforeFailure(_ shared: Shared) -> Bool {
        let promptTokens = request.promptTokens.count
        let (generated, tail): (Int, String?) = shared.progress.withLock { p in
            let n = p.output.generated
            guard n >= request.maxTokens || promptTokens + n >= backend.maxContextTokens else { return (n, nil) }
            p.finished = (
                n >= request.maxTokens ? .length : .contextFull,
                Usage(promptTokens: promptTokens, completionTokens: n, cachedPromptTokens: p.placement.cachedEstimate)
            )
            return (n, p.output.flush())
        }
        guard let tail, let (reason, usage) = shared.progress.withLock({ $0.finished }) else { return false }
        settle(shared)
        admit.yield(nil)
        events.yield(.finished(reason, usage, trailingText: tail))
        events.finish()
        backend.logger.notice("request \(request.id) had all \(generated) of its tokens when its worker failed: finished here")
        return true
    }

    /// Ends the request with an error the client sees, counted as a failed migration.
    private func give(up why: String, _ shared: Shared) {
        let worker = shared.progress.withLock { $0.placement.worker }
        backend.state.withLock { $0.migrationFailures += 1 }
        backend.logger.error("request \(request.id) on \(worker): \(why)")
        admit.yield(nil)
        events.finish(throwing: WorkerFailure(worker: worker, reason: why))
    }

    /// Gives back what the failed worker was charged, and routes the request again with
    /// the tokens generated so far, on a worker it has not failed on.
    private func move(_ shared: Shared, avoiding failed: Set<String>, because why: String) async throws(EngineError) {
        let (old, held, tokens) = shared.progress.withLock { p in
            defer { p.held = 0 }
            return (p.placement.worker, p.held, p.output.tokens)
        }
        backend.state.withLock { $0.release(old, blocks: held) }
        let prompt = request.promptTokens + tokens
        let (decision, connection) = try await backend.dispatch(request, prompt: prompt, avoiding: failed)
        let b = backend.configuration.blockSize
        let placement = Placement(
            worker: decision.worker, connection: connection, blocks: (prompt.count + b - 1) / b,
            cachedEstimate: min(decision.cachedBlocks * b, request.promptTokens.count))
        shared.progress.withLock { p in
            if p.pausedSince == nil { p.pausedSince = p.last }
            p.placement = placement
            p.held = placement.blocks
            p.resumed = tokens.count
            p.answered = false
            p.last = .now
        }
        backend.requestMoved(request.id, to: decision.worker)
        backend.state.withLock { $0.migrations += 1 }
        backend.logger.warning("request \(request.id) moved from \(old) to \(decision.worker) after \(tokens.count) tokens: \(why)")
    }

    /// Gives back the load this request was charged and records how it ended: once, and
    /// before the client sees the end, so the next request routes on settled counts.
    private func settle(_ shared: Shared) {
        let (worker, held, finished, first) = shared.progress.withLock { p in
            defer { p.settled = true }
            return (p.placement.worker, p.held, p.finished, !p.settled)
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

    /// Runs the request on its current worker, with the watchdog beside it.
    private func attempt(_ shared: Shared) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await call(shared) }
            group.addTask { try await watchdog(shared) }
            try await group.next()
            group.cancelAll()
        }
    }

    /// The request as the current worker gets it: the first time as the client sent it,
    /// after a move with the tokens generated so far appended to the prompt.
    private func message(resuming tokens: [Int]) -> WireRequest {
        guard !tokens.isEmpty else { return wire }
        var m = wire
        m.promptTokens += tokens.map(Int32.init)
        m.resumedTokens = Int32(tokens.count)
        m.maxTokens = Int32(request.maxTokens - tokens.count)
        m.minTokens = Int32(max(0, request.minTokens - tokens.count))
        return m
    }

    private func call(_ shared: Shared) async throws {
        let b = backend.configuration.blockSize
        let promptTokens = request.promptTokens.count
        let (placement, resumed, tokens) = shared.progress.withLock { ($0.placement, $0.resumed, $0.output.tokens) }
        let worker = placement.worker
        try await placement.connection.stub.generate(message(resuming: tokens)) { response in
            for try await message in response.messages {
                let (first, pause) = shared.progress.withLock { p in
                    let now = ContinuousClock.now
                    let pause = p.pausedSince.map { now - $0 }
                    p.pausedSince = nil
                    p.last = now
                    p.answered = true
                    defer { p.started = true }
                    return (!p.started, pause)
                }
                if let pause { backend.state.withLock { $0.migrationPauses.append(pause.seconds) } }
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
                                Usage(
                                    promptTokens: promptTokens, completionTokens: p.output.generated,
                                    cachedPromptTokens: placement.cachedEstimate)
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
                    // A moved request's worker counts the resumed tokens as prompt: the client
                    // sees its own prompt and everything generated for it.
                    let usage = Usage(
                        promptTokens: promptTokens, completionTokens: Int(f.completionTokens) + resumed,
                        cachedPromptTokens: min(Int(f.cachedPromptTokens), promptTokens))
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

    /// Throws when the worker is silent too long (before its first token, or between
    /// tokens) or when the router has stopped trusting it (suspect or dead).
    private func watchdog(_ shared: Shared) async throws {
        let config = backend.configuration
        while true {
            try await Task.sleep(for: .milliseconds(50))
            let (last, answered, worker) = shared.progress.withLock { ($0.last, $0.answered, $0.placement.worker) }
            let limit = answered ? config.tokenGapTimeout : config.firstTokenTimeout
            if ContinuousClock.now - last > limit {
                throw RPCError(
                    code: .deadlineExceeded, message: "no token for \(limit) (\(answered ? "between tokens" : "before the first"))")
            }
            let health = backend.state.withLock { $0.members[worker].map { ($0.state, $0.detail) } }
            // A worker that left discovery is draining: its stream goes on until it ends or breaks.
            switch health {
            case (.suspect, let why)?, (.dead, let why)?: throw RPCError(code: .unavailable, message: why ?? "the worker is suspect")
            default: continue
            }
        }
    }
}
