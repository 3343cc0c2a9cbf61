import Foundation
import Logging

extension AgentPool {
    /// Runs one agent per task, `concurrency` at a time; each finished agent's slot goes to
    /// the next task. Runs are stored in the pool's store.
    ///
    /// - Parameters:
    ///   - priorities: the priority of each task's model calls (`AgentSpec.priority`), by
    ///     index; tasks past its end keep the spec's.
    ///   - onFinish: hears the number of runs finished so far after each one (from the
    ///     calling task, never concurrently).
    /// - Returns: one entry per task, in the tasks' order; nil where the run failed.
    public func swarm(
        _ tasks: [String], priorities: [Int] = [], concurrency: Int, onFinish: (Int) -> Void = { _ in }
    ) async -> [AgentRun?] {
        let specs = tasks.indices.map { i in
            var s = spec
            if i < priorities.count { s.priority = priorities[i] }
            return s
        }
        let client = client
        let store = store
        var runs = [AgentRun?](repeating: nil, count: tasks.count)
        await withTaskGroup(of: (Int, AgentRun?).self) { group in
            var next = 0
            func start() {
                let i = next
                next += 1
                // A failed run is a result of the swarm (counted as failed), not a reason to stop the others.
                group.addTask {
                    do { return (i, try await Agent(spec: specs[i], client: client).run(task: tasks[i], store: store)) } catch {
                        Logger(label: "colony.swarm").error("run \(i + 1) of \(tasks.count) failed: \(error)")
                        return (i, nil)
                    }
                }
            }
            while next < min(max(1, concurrency), tasks.count) { start() }
            var done = 0
            for await (i, run) in group {
                runs[i] = run
                done += 1
                onFinish(done)
                if next < tasks.count { start() }
            }
        }
        return runs
    }
}

/// What a swarm did, over its runs: counts, answers graded against expectations, step latencies.
public struct SwarmSummary: Sendable, Equatable {
    public var runs: Int
    public var failed: Int
    /// Runs that had an expected answer.
    public var graded: Int
    /// Graded runs whose answer contains the expected text.
    public var solved: Int
    /// Every step of every finished run, in seconds, ascending.
    public var stepSeconds: [Double]
    /// Prompt plus completion tokens over every step.
    public var tokens: Int

    /// Summarises `runs` (nil: failed) against `expected` answers (nil: not graded), index by index.
    public init(runs: [AgentRun?], expected: [String?]) {
        precondition(runs.count == expected.count, "one expectation per run")
        let finished = runs.compactMap { $0 }
        self.runs = runs.count
        failed = runs.count - finished.count
        let pairs = zip(runs, expected).compactMap { run, expected in expected.map { (run, $0) } }
        graded = pairs.count
        solved = pairs.filter { run, expected in SuiteTask.reward(run?.answer, expected: expected) == 1 }.count
        stepSeconds = finished.flatMap { $0.steps.map(\.seconds) }.sorted()
        tokens = finished.reduce(0) { $0 + $1.steps.reduce(0) { $0 + $1.promptTokens + $1.completionTokens } }
    }
}
