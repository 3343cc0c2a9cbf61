import ColonyEngine
import ColonyModels
import ColonyRouting
import Foundation
import GRPCCore
import Logging
import Synchronization

/// An `InferenceBackend` over remote workers: the router. Each request goes to the worker
/// the routing policy picks; tokens come back as ids and become text here.
///
/// It follows discovery (workers come and go), polls each worker's status and follows its
/// KV events. Load accounting is charged when a request is routed and given back in one
/// place, whichever way the request ends (finish, error, cancel, client gone, deadline).
///
/// ```swift
/// let backend = RoutedBackend(tokenizer: tokenizer, contextLength: 2048, configuration: config, discovery: discovery)
/// let server = OpenAIServer(engine: backend, modelName: config.model, template: template)
/// ```
public final class RoutedBackend: InferenceBackend {
    public let tokenizer: Tokenizer
    public let configuration: RouterConfiguration
    public let discovery: any Discovery
    private let contextLength: Int
    let state: Mutex<RouterState>
    let connections = Mutex<[String: WorkerConnection]>([:])
    /// Requests from submit to settle: the id is reserved before routing, so a duplicate is
    /// refused before it charges a worker; worker and task are filled in as they exist.
    private let inFlight = Mutex<[String: InFlight]>([:])
    private let stopping = Atomic<Bool>(false)
    private let watcher = Mutex<Task<Void, Never>?>(nil)
    let logger = Logger(label: "colony.router")

    /// Starts following `discovery` at once.
    public init(tokenizer: Tokenizer, contextLength: Int, configuration: RouterConfiguration, discovery: any Discovery) {
        self.tokenizer = tokenizer
        self.contextLength = contextLength
        self.configuration = configuration
        self.discovery = discovery
        state = Mutex(RouterState(policy: configuration.routing))
        let task = Task { [weak self] in
            guard let self else { return }
            await self.watchDiscovery()
        }
        watcher.withLock { $0 = task }
    }

    deinit { watcher.withLock { $0?.cancel() } }

    /// The smallest context among ready workers (the model's own before any answered).
    public var maxContextTokens: Int {
        state.withLock { s in
            s.members.values.compactMap { m in m.state == .ready ? m.status.map { Int($0.maxContextTokens) } : nil }.min()
        } ?? contextLength
    }

    public var stats: EngineStats { state.withLock { $0.clusterStats } }

    public var health: BackendHealth {
        if stopping.load(ordering: .relaxed) { return .unavailable("the router is shutting down") }
        return state.withLock { s in
            let states = s.members.values.map(\.state)
            let ready = s.routable.count
            guard ready > 0 else {
                return .unavailable("no worker is ready (\(states.count) known: \(Self.summary(states)))")
            }
            let troubled = states.filter { $0 == .suspect || $0 == .dead }.count
            return troubled > 0 ? .degraded("\(troubled) of \(states.count) workers are suspect or dead") : .ready
        }
    }

    /// Every member, the router first: what `GET /v1/cluster` serves.
    public var clusterStatus: ClusterStatus {
        var router = MemberStatus(
            id: "router", role: "router", state: stopping.load(ordering: .relaxed) ? .draining : .ready,
            pid: Int(ProcessInfo.processInfo.processIdentifier), address: configuration.address)
        router.model = configuration.model
        router.modelDigest = configuration.modelDigest
        let s = stats
        router.running = s.running
        router.waiting = s.waiting
        return ClusterStatus(members: [router] + state.withLock { $0.memberStatuses })
    }

    public func submit(_ request: EngineRequest) async throws(EngineError) -> AsyncThrowingStream<EngineEvent, Error> {
        guard !stopping.load(ordering: .relaxed) else { throw .shuttingDown }
        try request.validate(vocabularySize: tokenizer.vocabularySize, contextLimit: maxContextTokens)
        let wire: WireRequest
        do { wire = try WireRequest(request) } catch { throw .invalidRequest("cannot encode the request: \(error)") }
        let reserved = inFlight.withLock { map in
            guard map[request.id] == nil else { return false }
            map[request.id] = InFlight()
            return true
        }
        guard reserved else { throw .duplicateID(request.id) }
        let decision: RoutingDecision
        let connection: WorkerConnection
        do {
            (decision, connection) = try await dispatch(request, prompt: request.promptTokens)
        } catch {
            requestEnded(request.id)
            throw error
        }
        requestMoved(request.id, to: decision.worker)

        let b = configuration.blockSize
        let (stream, continuation) = AsyncThrowingStream<EngineEvent, Error>.makeStream()
        let (admission, admit) = AsyncStream<EngineError?>.makeStream()
        let relay = Relay(backend: self, request: request, wire: wire, events: continuation, admit: admit)
        let placement = Relay.Placement(
            worker: decision.worker, connection: connection, blocks: (request.promptTokens.count + b - 1) / b,
            cachedEstimate: decision.cachedBlocks * b)
        let task = Task { await relay.run(on: placement) }
        inFlight.withLock { $0[request.id]?.task = task }  // nothing to do if it has already ended
        continuation.onTermination = { termination in if case .cancelled = termination { task.cancel() } }
        // Refusals (queue full, invalid) surface here, as the engine's do, not mid-stream.
        for await refusal in admission {
            if let refusal { throw refusal }
            break
        }
        return stream
    }

    public func cancel(_ id: String) async {
        guard let worker = inFlight.withLock({ $0[id]?.worker }), let c = connections.withLock({ $0[worker] }) else { return }
        _ = try? await c.stub.cancel(.with { $0.id = id }, options: WorkerConnection.within(configuration.callTimeout))
    }

    public func shutdown(cancelInFlight: Bool) async {
        stopping.store(true, ordering: .relaxed)
        if cancelInFlight { inFlight.withLock { for r in $0.values { r.task?.cancel() } } }
        let deadline = ContinuousClock.now + configuration.firstTokenTimeout
        while ContinuousClock.now < deadline, !inFlight.withLock({ $0.isEmpty }) { try? await Task.sleep(for: .milliseconds(20)) }
        watcher.withLock { $0?.cancel() }
        for c in connections.withLock({ Array($0.values) }) { c.close() }
    }

    /// Routes `request` with `prompt` (its own, or that plus what it generated before a
    /// move) to a worker not in `avoiding` (while another is routable) and charges it, waiting (up to `dispatchTimeout`)
    /// while none is routable or, under `score`, while more urgent requests come first.
    func dispatch(
        _ request: EngineRequest, prompt: [Int], avoiding: Set<String> = []
    ) async throws(EngineError) -> (RoutingDecision, WorkerConnection) {
        var strategy: RoutingStrategy?
        if let asked = request.routing {
            guard let s = RoutingStrategy(rawValue: asked) else {
                let known = RoutingStrategy.allCases.map(\.rawValue).joined(separator: ", ")
                throw .invalidRequest("x-colony-routing must be one of \(known); got '\(asked)'")
            }
            strategy = s
        }
        let b = configuration.blockSize
        let root = PrefixHash.root(salts: [configuration.prefixCacheSalt, request.cacheSalt])
        let route = RouteRequest(
            id: request.id, promptBlocks: PrefixHash.blocks(of: prompt, blockSize: b, root: root), session: request.session,
            priority: RouteRequest.priority(engine: request.priority), strategy: strategy, avoiding: avoiding)
        let blocks = (prompt.count + b - 1) / b
        let deadline = ContinuousClock.now + configuration.dispatchTimeout
        var queued = false
        defer {
            // A request that stops waiting (routed, timed out, cancelled) is nobody's turn any more.
            state.withLock { s in
                s.policy.abandon(request.id)
                if queued { s.queued -= 1 }
            }
        }
        while true {
            if let d = state.withLock({ $0.route(route, blocks: blocks, now: Date()) }) {
                if let c = connections.withLock({ $0[d.worker] }) { return (d, c) }
                state.withLock { $0.release(d.worker, blocks: blocks) }
            }
            guard ContinuousClock.now < deadline, !stopping.load(ordering: .relaxed), !Task.isCancelled else {
                let roster = state.withLock { $0.roster }
                let avoided = avoiding.isEmpty ? "" : ", after failing on \(avoiding.sorted().joined(separator: ", "))"
                throw .unavailable("no worker is ready to serve '\(configuration.model)' (\(roster)\(avoided)); retry later")
            }
            if !queued {
                queued = true
                state.withLock { $0.queued += 1 }
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Records where a request runs now, for cancellation by id.
    func requestMoved(_ id: String, to worker: String) { inFlight.withLock { $0[id]?.worker = worker } }

    /// Called once by each request's relay when it ends, however it ends.
    func requestEnded(_ id: String) { _ = inFlight.withLock { $0.removeValue(forKey: id) } }

    private static func summary(_ states: [MemberState]) -> String {
        let counts = Dictionary(grouping: states, by: \.self).mapValues(\.count)
        return MemberState.allCases.compactMap { s in counts[s].map { "\($0) \(s.rawValue)" } }.joined(separator: ", ")
    }
}

extension RoutedBackend {
    /// Follows discovery until the router stops: opens connections to new members, closes
    /// and fences out the ones that left.
    func watchDiscovery() async {
        while !Task.isCancelled {
            do {
                let listed = try discovery.members()
                state.withLock { $0.discoveryError = nil }
                reconcile(listed)
                await replaceDeadWorkers()
            } catch {
                state.withLock { $0.discoveryError = error.description }
                logger.error("discovery: \(error.description)")
            }
            try? await Task.sleep(for: configuration.pollInterval)
        }
    }

    private func reconcile(_ listed: [ClusterMember]) {
        let known = connections.withLock { $0 }
        let wanted = Dictionary(listed.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        // A new address or process is a new member; a new role (a promoted spare) is not.
        for (id, member) in wanted where known[id] != nil { state.withLock { $0.members[id]?.member.role = member.role } }
        for (id, c) in known where wanted[id]?.address != c.member.address || wanted[id]?.pid != c.member.pid {
            c.close()
            connections.withLock { $0[id] = nil }
            state.withLock {
                $0.members[id] = nil
                $0.index.remove(id)
            }
        }
        for (id, member) in wanted where connections.withLock({ $0[id] == nil }) {
            do {
                let c = try WorkerConnection(member: member)
                connections.withLock { $0[id] = c }
                state.withLock { $0.members[id] = RouterState.Member(member: member) }
                c.spawn { [weak self] in
                    guard let self else { return }
                    await self.followStatus(c)
                }
                c.spawn { [weak self] in
                    guard let self else { return }
                    await self.followKVEvents(c)
                }
            } catch {
                var dead = RouterState.Member(member: member)
                dead.health.refuse("\(error)")
                state.withLock { $0.members[id] = dead }
            }
        }
    }
}

/// A request between submit and settle.
private struct InFlight {
    var worker: String?
    var task: Task<Void, Never>?
}
