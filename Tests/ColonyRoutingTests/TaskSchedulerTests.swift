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
        #expect(ScoredAssignment().choose(for: QueuedTask(prompt: "x"), among: workers) == "idle-fast")
        #expect(ScoredAssignment().choose(for: QueuedTask(prompt: "x"), among: [workers[3]]) == nil)
    }

    @Test("higher priority first, and aging lets an old low-priority task overtake")
    func agingAndPriority() {
        var s = TaskScheduler(agingPerSecond: 0.01)
        let t0 = Date(timeIntervalSince1970: 1000)
        s.submit(QueuedTask(id: "low-old", prompt: "a", priority: 0.1, enqueued: t0))
        s.submit(QueuedTask(id: "high-new", prompt: "b", priority: 0.5, enqueued: t0 + 30))
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
        func member(_ id: String, running: Int, waiting: Int) -> MemberStatus {
            var m = MemberStatus(id: id, role: "active", state: .ready, pid: nil, address: "10.0.0.1:1")
            m.running = running
            m.waiting = waiting
            return m
        }
        // w1: 4 running and 4 waiting of 16, 20 ms between tokens; w2: 12 + 0 of 16, 10 ms;
        // w3: full (16 of 16).
        let workers = [
            WorkerState(live: member("w1", running: 4, waiting: 4), capacity: 16, interTokenSeconds: 0.020),
            WorkerState(live: member("w2", running: 12, waiting: 0), capacity: 16, interTokenSeconds: 0.010),
            WorkerState(live: member("w3", running: 16, waiting: 0), capacity: 16, interTokenSeconds: 0.005),
        ]
        let p = ScoredAssignment()
        // w1: 0.6·0.5 + 0.3·0 + 0.1·0.5 = 0.35; w2: 0.6·0.25 + 0.3·0.5 + 0.05 = 0.35 → tie, by name.
        #expect(abs(p.score(workers[0], slowest: 0.020, priority: 0.5) - 0.35) < 1e-12)
        #expect(abs(p.score(workers[1], slowest: 0.020, priority: 0.5) - 0.35) < 1e-12)
        #expect(p.choose(for: QueuedTask(prompt: "x", priority: 0.5), among: workers) == "w1")
        // w1 gets busier: the faster w2 wins.
        var busier = workers
        busier[0] = WorkerState(live: member("w1", running: 6, waiting: 4), capacity: 16, interTokenSeconds: 0.020)
        #expect(p.choose(for: QueuedTask(prompt: "x", priority: 0.5), among: busier) == "w2")
        // Every worker full: the task waits.
        let full = workers.map { WorkerState(name: $0.name, running: 16, capacity: 16, latency: $0.latency) }
        #expect(p.choose(for: QueuedTask(prompt: "x"), among: full) == nil)
    }
}
