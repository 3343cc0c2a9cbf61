import Foundation

/// What score placement knows about a worker.
public struct WorkerState: Sendable, Equatable {
    public var name: String
    /// Requests (or tasks) running or waiting on it now.
    public var running: Int
    /// Requests it runs at once; one with `running >= capacity` takes nothing more.
    public var capacity: Int
    /// Its recent time per step (between tokens), in seconds.
    public var latency: Double

    public init(name: String, running: Int = 0, capacity: Int = 1, latency: Double = 0) {
        self.name = name
        self.running = running
        self.capacity = capacity
        self.latency = latency
    }

    /// A worker as the router sees it live: its load is what runs and waits on it, the
    /// larger of the router's own count and the worker's last report (which includes other
    /// routers' requests); its capacity is the batch its engine runs at once.
    public init(_ w: WorkerLoad) {
        self.init(name: w.id, running: max(w.inFlight, w.reported), capacity: w.capacity, latency: w.interTokenSeconds)
    }
}

/// A task (or request) waiting for a worker.
public struct QueuedTask: Sendable, Equatable {
    public var id: String
    /// 0 (low) … 1 (high).
    public var priority: Double
    public var enqueued: Date
    /// Workers it already failed on: passed over while another can take it.
    public var avoiding: Set<String>

    public init(id: String = UUID().uuidString, priority: Double = 0.5, enqueued: Date = Date(), avoiding: Set<String> = []) {
        self.id = id
        self.priority = min(max(priority, 0), 1)
        self.enqueued = enqueued
        self.avoiding = avoiding
    }
}

/// Chooses the worker for a task. Conformers return nil when no worker has room.
public protocol AssignmentPolicy: Sendable {
    func choose(for task: QueuedTask, among workers: [WorkerState]) -> String?
}

/// The default: score = 0.6·(1 − load) + 0.3·(1 − latency) + 0.1·priority, with load
/// (running / capacity) and latency (divided by the slowest worker's) normalised to [0, 1];
/// the highest score wins, ties by name. Workers the task avoids take no part, not even in
/// the normalisation.
public struct ScoredAssignment: AssignmentPolicy {
    public init() {}

    public func score(_ w: WorkerState, slowest: Double, priority: Double) -> Double {
        let load = w.capacity > 0 ? min(1, Double(w.running) / Double(w.capacity)) : 1
        let latency = slowest > 0 ? min(1, w.latency / slowest) : 0
        return 0.6 * (1 - load) + 0.3 * (1 - latency) + 0.1 * priority
    }

    public func choose(for task: QueuedTask, among workers: [WorkerState]) -> String? {
        let live = passingOver(task.avoiding, workers, id: \.name)
        let slowest = live.map(\.latency).max() ?? 0
        return live.filter { $0.running < $0.capacity }.max { a, b in
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

    /// Whether the task `id` is waiting.
    public func contains(_ id: String) -> Bool { queue.contains { $0.id == id } }

    /// Takes a task out of the queue unplaced (its caller gave up waiting).
    public mutating func remove(_ id: String) { queue.removeAll { $0.id == id } }

    /// Priority after waiting until `now`.
    public func effectivePriority(_ t: QueuedTask, now: Date) -> Double {
        min(1, t.priority + agingPerSecond * max(0, now.timeIntervalSince(t.enqueued)))
    }

    /// The most urgent task that some worker has room for, with its worker, without taking it.
    public func peek(workers: [WorkerState], now: Date = Date()) -> (task: QueuedTask, worker: String)? {
        // While every worker is full (the usual state of a long queue) nothing can move: say so
        // before ordering the queue.
        guard workers.contains(where: { $0.running < $0.capacity }) else { return nil }
        let order = queue.indices.sorted { a, b in
            let (pa, pb) = (effectivePriority(queue[a], now: now), effectivePriority(queue[b], now: now))
            return pa != pb ? pa > pb : queue[a].enqueued < queue[b].enqueued
        }
        for i in order {
            var task = queue[i]
            task.priority = effectivePriority(task, now: now)
            if let worker = policy.choose(for: task, among: workers) { return (task, worker) }
        }
        return nil
    }

    /// Takes the most urgent task that some worker has room for, with its worker.
    public mutating func next(workers: [WorkerState], now: Date = Date()) -> (task: QueuedTask, worker: String)? {
        guard let placed = peek(workers: workers, now: now) else { return nil }
        remove(placed.task.id)
        return placed
    }
}
