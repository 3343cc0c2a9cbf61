import ColonyRouting
import Foundation
import Testing

@Suite("Task scheduler")
struct TaskSchedulerTests {
    @Test("the score weighs load, latency and priority as specified")
    func score() {
        let p = ScoredAssignment()
        // Idle and fastest: 0.6 + 0.3 + 0.1·0.5.
        #expect(abs(p.score(WorkerState(name: "a", running: 0, capacity: 2, latency: 0), slowest: 2, priority: 0.5) - 0.95) < 1e-12)
        // Half loaded, slowest: 0.6·0.5 + 0 + 0.1.
        #expect(abs(p.score(WorkerState(name: "b", running: 1, capacity: 2, latency: 2), slowest: 2, priority: 1) - 0.4) < 1e-12)
    }

    @Test("tasks go to the idle, fast worker; full workers get none")
    func choice() {
        let workers = [
            WorkerState(name: "busy", running: 1, capacity: 2, latency: 0.1),
            WorkerState(name: "idle-slow", running: 0, capacity: 2, latency: 1.0),
            WorkerState(name: "idle-fast", running: 0, capacity: 2, latency: 0.2),
            WorkerState(name: "full", running: 2, capacity: 2, latency: 0),
        ]
        #expect(ScoredAssignment().choose(for: QueuedTask(), among: workers) == "idle-fast")
        #expect(ScoredAssignment().choose(for: QueuedTask(), among: [workers[3]]) == nil)
    }

    @Test("higher priority first, and aging lets an old low-priority task overtake")
    func agingAndPriority() {
        var s = TaskScheduler(agingPerSecond: 0.01)
        let t0 = Date(timeIntervalSince1970: 1000)
        s.submit(QueuedTask(id: "low-old", priority: 0.1, enqueued: t0))
        s.submit(QueuedTask(id: "high-new", priority: 0.5, enqueued: t0 + 30))
        let worker = [WorkerState(name: "w", capacity: 1)]
        // At t0+30 the old task is at 0.1 + 0.3 = 0.4 < 0.5: the high one goes first.
        var probe = s
        #expect(probe.next(workers: worker, now: t0 + 30)?.task.id == "high-new")
        // At t0+60 it has aged to 0.7 > 0.5 (the new one is at 0.8): still behind...
        probe = s
        #expect(probe.next(workers: worker, now: t0 + 60)?.task.id == "high-new")
        // ...but a task that waited long enough reaches the cap of 1 and ties win by age.
        #expect(s.next(workers: worker, now: t0 + 200)?.task.id == "low-old")
        #expect(s.queue.map(\.id) == ["high-new"])
        #expect(s.next(workers: [WorkerState(name: "w", running: 1, capacity: 1)]) == nil)
    }
}

@Suite("Placement on live cluster members")
struct LivePlacementTests {
    @Test("live load is running plus waiting over capacity, latency is normalised over the live workers")
    func liveInputs() {
        // w1: 8 running or waiting of 16 (the router's count; its report lags at 6), 20 ms
        // between tokens; w2: 12 of 16 (reported: another router sends there too), 10 ms; w3: full.
        let workers = [
            WorkerState(WorkerLoad(id: "w1", inFlight: 8, activeBlocks: 0, reported: 6, capacity: 16, interTokenSeconds: 0.020)),
            WorkerState(WorkerLoad(id: "w2", inFlight: 3, activeBlocks: 0, reported: 12, capacity: 16, interTokenSeconds: 0.010)),
            WorkerState(WorkerLoad(id: "w3", inFlight: 16, activeBlocks: 0, reported: 16, capacity: 16, interTokenSeconds: 0.005)),
        ]
        #expect(workers.map(\.running) == [8, 12, 16])
        let p = ScoredAssignment()
        // w1: 0.6·0.5 + 0.3·0 + 0.1·0.5 = 0.35; w2: 0.6·0.25 + 0.3·0.5 + 0.05 = 0.35 → tie, by name.
        #expect(abs(p.score(workers[0], slowest: 0.020, priority: 0.5) - 0.35) < 1e-12)
        #expect(abs(p.score(workers[1], slowest: 0.020, priority: 0.5) - 0.35) < 1e-12)
        #expect(p.choose(for: QueuedTask(priority: 0.5), among: workers) == "w1")
        // w1 gets busier: the faster w2 wins.
        var busier = workers
        busier[0].running = 10
        #expect(p.choose(for: QueuedTask(priority: 0.5), among: busier) == "w2")
        // A task that failed on w2 goes to w1; the slowest is then w1 itself (w3 is full but live).
        #expect(p.choose(for: QueuedTask(priority: 0.5, avoiding: ["w2"]), among: busier) == "w1")
        // A task that failed on every worker is placed again on one that has room.
        #expect(p.choose(for: QueuedTask(priority: 0.5, avoiding: Set(workers.map(\.name))), among: busier) == "w2")
        // Every worker full: the task waits.
        let full = workers.map { WorkerState(name: $0.name, running: 16, capacity: 16, latency: $0.latency) }
        #expect(p.choose(for: QueuedTask(), among: full) == nil)
    }
}

@Suite("Score routing")
struct ScoreRoutingTests {
    let t0 = Date(timeIntervalSince1970: 1000)

    func load(_ id: String, _ inFlight: Int, capacity: Int = 2, itl: Double = 0.01) -> WorkerLoad {
        WorkerLoad(id: id, inFlight: inFlight, activeBlocks: 0, capacity: capacity, interTokenSeconds: itl)
    }

    func request(_ id: String, priority: Double = 0.5, strategy: RoutingStrategy? = nil) -> RouteRequest {
        RouteRequest(id: id, promptBlocks: [], priority: priority, strategy: strategy)
    }

    @Test("a request goes to the best-scored worker with room, and waits while every worker is full")
    func placesAndWaits() {
        var policy = RoutingPolicy(strategy: .score)
        let index = KVIndex()
        let open = [load("slow", 0, itl: 0.04), load("fast", 1, itl: 0.01)]
        // slow: 0.6 + 0 + 0.05 = 0.65; fast: 0.3 + 0.225 + 0.05 = 0.575.
        let d = policy.route(request("a"), workers: open, index: index, now: t0)
        #expect(d == RoutingDecision(worker: "slow", reason: .score, cachedBlocks: 0))
        let full = [load("slow", 2), load("fast", 2)]
        #expect(policy.route(request("b"), workers: full, index: index, now: t0) == nil)
        #expect(policy.waiting.queue.map(\.id) == ["b"])
        #expect(policy.route(request("b"), workers: [load("slow", 2), load("fast", 1)], index: index, now: t0 + 1)?.worker == "fast")
        #expect(policy.waiting.queue.isEmpty)
    }

    @Test("a freed slot goes to the most urgent waiter, whoever asks first; aging lets an old low-priority request overtake")
    func urgentFirstAndAging() {
        var policy = RoutingPolicy(strategy: .score)
        let index = KVIndex()
        let full = [load("w", 2)]
        #expect(policy.route(request("low", priority: 0.1), workers: full, index: index, now: t0) == nil)
        #expect(policy.route(request("high", priority: 0.9), workers: full, index: index, now: t0 + 1) == nil)
        let freed = [load("w", 1)]
        // The low one asks first but the high one is more urgent: low keeps waiting.
        #expect(policy.route(request("low", priority: 0.1), workers: freed, index: index, now: t0 + 2) == nil)
        #expect(policy.route(request("high", priority: 0.9), workers: freed, index: index, now: t0 + 2)?.worker == "w")
        // Another high-priority request arrives; after 90 s of waiting the low one (0.1 + 0.9 = 1)
        // outranks it (0.9 + 0.01·10 = 1, tie: the older goes first).
        #expect(policy.route(request("high2", priority: 0.9), workers: full, index: index, now: t0 + 80) == nil)
        #expect(policy.route(request("high2", priority: 0.9), workers: freed, index: index, now: t0 + 90) == nil)
        #expect(policy.route(request("low", priority: 0.1), workers: freed, index: index, now: t0 + 90)?.worker == "w")
    }

    @Test("a waiter that gives up leaves the queue and stops holding the turn")
    func abandon() {
        var policy = RoutingPolicy(strategy: .score)
        let index = KVIndex()
        #expect(policy.route(request("gone", priority: 1), workers: [load("w", 2)], index: index, now: t0) == nil)
        #expect(policy.route(request("next", priority: 0), workers: [load("w", 1)], index: index, now: t0) == nil)
        policy.abandon("gone")
        #expect(policy.route(request("next", priority: 0), workers: [load("w", 1)], index: index, now: t0)?.worker == "w")
    }

    @Test("a request may ask for score under another default, and for another strategy under score")
    func perRequestStrategy() {
        var policy = RoutingPolicy(strategy: .roundRobin)
        let index = KVIndex()
        let workers = [load("a", 0, itl: 0.05), load("b", 1, capacity: 8, itl: 0.01)]
        #expect(policy.route(request("1"), workers: workers, index: index, now: t0)?.reason == .roundRobin)
        let scored = policy.route(request("2", strategy: .score), workers: workers, index: index, now: t0)
        // a: 0.6 + 0 + 0.05 = 0.65; b: 0.6·(7/8) + 0.3·0.8 + 0.05 = 0.815.
        #expect(scored == RoutingDecision(worker: "b", reason: .score, cachedBlocks: 0))
        var scoring = RoutingPolicy(strategy: .score)
        let full = [load("a", 2), load("b", 2)]
        #expect(scoring.route(request("3", strategy: .leastLoad), workers: full, index: index, now: t0)?.reason == .leastLoad)
        #expect(scoring.waiting.queue.isEmpty)
    }

    @Test("engine priorities map onto the score's 0…1")
    func priorityMapping() {
        #expect(RouteRequest.priority(engine: 0) == 0.5)
        #expect(RouteRequest.priority(engine: -9) == 0)
        #expect(RouteRequest.priority(engine: 5) == 1)
        #expect(abs(RouteRequest.priority(engine: 2) - 0.7) < 1e-12)
    }
}
