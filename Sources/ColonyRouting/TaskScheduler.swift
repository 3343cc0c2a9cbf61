import Foundation

/// What the scheduler knows about a worker agent when it places a task.
public struct WorkerState: Sendable, Equatable {
    public var name: String
    /// Tasks it is running now.
    public var running: Int
    /// Tasks it may run at once.
    public var capacity: Int
    /// Its recent mean step latency, in seconds.
    public var latency: Double

    public init(name: String, running: Int = 0, capacity: Int = 1, latency: Double = 0) {
        self.name = name
        self.running = running
        self.capacity = capacity
        self.latency = latency
    }

    /// A cluster member as a router sees it live: what runs and waits on it counts as its
    /// load, against the requests it batches at once; `interTokenSeconds` is its recent
    /// time between tokens.
    public init(live member: MemberStatus, capacity: Int, interTokenSeconds: Double) {
        self.init(name: member.id, running: member.running + member.waiting, capacity: capacity, latency: interTokenSeconds)
    }
}

/// A task waiting for an agent.
public struct QueuedTask: Sendable, Equatable {
    public var id: String
    public var prompt: String
    /// 0 (low) … 1 (high).
    public var priority: Double
    public var enqueued: Date

    public init(id: String = UUID().uuidString, prompt: String, priority: Double = 0.5, enqueued: Date = Date()) {
        self.id = id
        self.prompt = prompt
        self.priority = min(max(priority, 0), 1)
        self.enqueued = enqueued
    }
}

/// Chooses the worker for a task. Conformers return nil when no worker has room.
public protocol AssignmentPolicy: Sendable {
    func choose(for task: QueuedTask, among workers: [WorkerState]) -> String?
}

/// The default: score = 0.6·(1 − load) + 0.3·(1 − latency) + 0.1·priority, with load
/// (running / capacity) and latency (divided by the slowest worker's) normalised to [0, 1];
/// the highest score wins, ties by name.
public struct ScoredAssignment: AssignmentPolicy {
    public init() {}

    public func score(_ w: WorkerState, slowest: Double, priority: Double) -> Double {
        let load = w.capacity > 0 ? min(1, Double(w.running) / Double(w.capacity)) : 1
        let latency = slowest > 0 ? min(1, w.latency / slowest) : 0
        return 0.6 * (1 - load) + 0.3 * (1 - latency) + 0.1 * priority
    }

    public func choose(for task: QueuedTask, among workers: [WorkerState]) -> String? {
        let open = workers.filter { $0.running < $0.capacity }
        let slowest = workers.map(\.latency).max() ?? 0
        return open.max { a, b in
            let (sa, sb) = (score(a, slowest: slowest, priority: task.priority), score(b, slowest: slowest, priority: task.priority))
            return sa != sb ? sa < sb : a.name > b.name
        }?.name
    }
}

/// A priority queue of tasks, assigned to workers by a pluggable policy. Waiting raises a
/// task's effective priority by `agingPerSecond` (capped at 1), so low-priority tasks
/// never starve behind a stream of high-priority ones.
public struct TaskScheduler: Sendable {
    public var policy: any AssignmentPolicy
    public var agingPerSecond: Double
    public private(set) var queue: [QueuedTask] = []

    public init(policy: any AssignmentPolicy = ScoredAssignment(), agingPerSecond: Double = 0.01) {
        self.policy = policy
        self.agingPerSecond = agingPerSecond
    }

    public mutating func submit(_ task: QueuedTask) { queue.append(task) }

    /// Priority after waiting until `now`.
    public func effectivePriority(_ t: QueuedTask, now: Date) -> Double {
        min(1, t.priority + agingPerSecond * max(0, now.timeIntervalSince(t.enqueued)))
    }

    /// Takes the most urgent task that some worker has room for, with its worker.
    public mutating func next(workers: [WorkerState], now: Date = Date()) -> (task: QueuedTask, worker: String)? {
        let order = queue.indices.sorted { a, b in
            let (pa, pb) = (effectivePriority(queue[a], now: now), effectivePriority(queue[b], now: now))
            return pa != pb ? pa > pb : queue[a].enqueued < queue[b].enqueued
        }
        for i in order {
            var task = queue[i]
            task.priority = effectivePriority(task, now: now)
            if let worker = policy.choose(for: task, among: workers) {
                queue.remove(at: i)
                return (task, worker)
            }
        }
        return nil
    }
}
