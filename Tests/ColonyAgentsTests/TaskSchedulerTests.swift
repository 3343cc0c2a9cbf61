import ColonyAgents
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
