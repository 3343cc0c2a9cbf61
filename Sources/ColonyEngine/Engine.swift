import ColonyModels
import Foundation
import Logging

/// The serving engine: continuous batching over one model, on a thread of its own.
///
/// `submit` validates a request and returns a stream of its tokens; requests from any
/// number of tasks share each forward step. Dropping a stream (a client that went away)
/// cancels its request, and its KV blocks are freed at the next step.
///
/// ```swift
/// let engine = try Engine(model: model, tokenizer: tokenizer)
/// for try await event in try engine.submit(EngineRequest(promptTokens: ids)) {
///     if case .token(_, let text) = event { print(text, terminator: "") }
/// }
/// ```
public final class Engine: InferenceBackend {
    public let configuration: EngineConfiguration
    public let tokenizer: Tokenizer
    public let modelConfig: LlamaConfiguration
    /// Changes to the prefix cache, in order, when `configuration.publishesKVEvents` is on
    /// (else it stays empty); it ends when the engine stops. One consumer at a time.
    public let kvEvents: AsyncStream<KVEvent>
    private let inbox: Inbox
    private let finished = DispatchSemaphore(value: 0)

    /// Starts the engine thread. The model is used by that thread only from now on.
    public convenience init(
        model: LlamaModel, tokenizer: Tokenizer, configuration: EngineConfiguration = EngineConfiguration()
    ) throws(EngineError) {
        try configuration.validate()
        try self.init(
            runner: LlamaRunner(model: model, blockCount: configuration.kvBlocks, blockSize: configuration.blockSize),
            tokenizer: tokenizer, configuration: configuration)
    }

    /// Starts the engine thread over any runner (one that injects delays or faults, in tests).
    public init(runner: any ModelRunner, tokenizer: Tokenizer, configuration: EngineConfiguration) throws(EngineError) {
        try configuration.validate()
        self.configuration = configuration
        self.tokenizer = tokenizer
        modelConfig = runner.config
        let core = CoreBox(EngineCore(runner: runner, tokenizer: tokenizer, configuration: configuration))
        core.core.scheduler.pool.recordsEvents = configuration.publishesKVEvents
        let (events, eventSink) = AsyncStream<KVEvent>.makeStream(bufferingPolicy: .bufferingNewest(1 << 16))
        kvEvents = events
        let inbox = Inbox()
        self.inbox = inbox
        let done = finished
        let thread = Thread {
            Self.run(core: core.core, inbox: inbox, events: eventSink)
            eventSink.finish()
            done.signal()
        }
        thread.name = "colony-engine"
        thread.start()
    }

    /// An engine dropped without `shutdown` still stops its thread (cancelling what runs).
    deinit {
        inbox.locked {
            $0.stopping = true
            $0.cancelAll = true
        }
    }

    /// Queues a request and returns its event stream.
    /// - Throws: `EngineError` for an invalid request, a full queue or a shutdown; the
    ///   engine is unchanged then.
    public func submit(_ request: EngineRequest) throws(EngineError) -> AsyncThrowingStream<EngineEvent, Error> {
        try request.validate(vocabularySize: modelConfig.vocabularySize, contextLimit: maxContextTokens)
        let (stream, continuation) = AsyncThrowingStream<EngineEvent, Error>.makeStream()
        try inbox.locked { state throws(EngineError) in
            guard !state.stopping else { throw .shuttingDown }
            guard !state.inFlight.contains(request.id) else { throw .duplicateID(request.id) }
            guard state.queued < configuration.maxQueue else { throw .queueFull(limit: configuration.maxQueue) }
            state.inFlight.insert(request.id)
            state.submitted.append((request, continuation))
            state.queued += 1
        }
        continuation.onTermination = { [weak self] termination in
            if case .cancelled = termination { self?.cancel(request.id) }
        }
        return stream
    }

    /// Cancels a request; its stream ends with `.finished(.cancelled, …)`.
    public func cancel(_ id: String) {
        inbox.locked { $0.cancelled.append(id) }
    }

    /// A snapshot of queue depth, KV use, counters and latency histograms.
    public var stats: EngineStats { inbox.locked { $0.stats } }

    /// Ready until `shutdown` is called.
    public var health: BackendHealth { inbox.locked { $0.stopping ? .unavailable("the engine is shutting down") : .ready } }

    /// The model's context or the KV pool, whichever holds fewer tokens.
    public var maxContextTokens: Int { min(modelConfig.contextLength, configuration.kvBlocks * configuration.blockSize) }

    /// Stops taking requests, then finishes the ones in flight (or cancels them) and stops
    /// the engine thread.
    public func shutdown(cancelInFlight: Bool = false) async {
        inbox.locked {
            $0.stopping = true
            $0.cancelAll = cancelInFlight
        }
        let done = finished
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async {
                done.wait()
                done.signal()  // let a second shutdown call return too
                c.resume()
            }
        }
    }

    // MARK: - Engine thread

    private static func run(core: EngineCore, inbox: Inbox, events: AsyncStream<KVEvent>.Continuation) {
        while true {
            let (submitted, cancelled, stopping, cancelAll) = inbox.takeWork(idle: core.isIdle)
            for (request, continuation) in submitted {
                do {
                    try core.add(request) { event in
                        continuation.yield(event)
                        if case .finished = event { continuation.finish() }
                    }
                } catch {
                    continuation.finish(throwing: error)  // sampling was validated; kept for safety
                }
            }
            for id in cancelled { core.cancel(id) }
            if cancelAll { core.cancelAll() }
            core.step()
            let scheduler = core.scheduler
            for event in scheduler.pool.drainEvents() { events.yield(event) }
            inbox.publish(core.stats, queued: scheduler.waitingCount, inFlight: Set(scheduler.waitingIDs + scheduler.runningIDs))
            if stopping && core.isIdle { return }
        }
    }
}

/// The model and scheduler: touched only by the engine thread after `init` hands them
/// over, which is why the box can be `@unchecked Sendable`.
private final class CoreBox: @unchecked Sendable {
    let core: EngineCore
    init(_ core: EngineCore) { self.core = core }
}

/// State shared between callers and the engine thread, guarded by `condition`.
private final class Inbox: @unchecked Sendable {
    struct State {
        var submitted: [(EngineRequest, AsyncThrowingStream<EngineEvent, Error>.Continuation)] = []
        var cancelled: [String] = []
        var stopping = false
        var cancelAll = false
        /// Requests waiting for admission (submitted or queued in the scheduler).
        var queued = 0
        var inFlight: Set<String> = []
        var stats = EngineStats()
    }

    private let condition = NSCondition()
    private var state = State()

    func locked<T, E: Error>(_ body: (inout State) throws(E) -> T) throws(E) -> T {
        condition.lock()
        defer {
            condition.signal()
            condition.unlock()
        }
        return try body(&state)
    }

    /// Takes what callers left; when the scheduler is idle, sleeps until there is some.
    func takeWork(idle: Bool) -> ([(EngineRequest, AsyncThrowingStream<EngineEvent, Error>.Continuation)], [String], Bool, Bool) {
        condition.lock()
        defer { condition.unlock() }
        while idle && state.submitted.isEmpty && state.cancelled.isEmpty && !state.stopping { condition.wait() }
        let work = (state.submitted, state.cancelled, state.stopping, state.cancelAll)
        state.submitted = []
        state.cancelled = []
        return work
    }

    func publish(_ stats: EngineStats, queued: Int, inFlight: Set<String>) {
        condition.lock()
        state.stats = stats
        state.queued = queued + state.submitted.count
        state.inFlight = inFlight.union(state.submitted.map(\.0.id))
        condition.unlock()
    }
}
