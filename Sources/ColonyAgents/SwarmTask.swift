import Foundation

/// One line of a swarm's tasks file: `{"task": "...", "expected": "...", "priority": 2}`.
public struct SwarmTask: Decodable, Sendable, Equatable {
    public var task: String
    /// Text a correct answer contains; nil: the run is not graded.
    public var expected: String?
    /// The priority of the run's model calls (larger is more urgent; 0 when absent).
    public var priority: Int?

    public init(task: String, expected: String? = nil, priority: Int? = nil) {
        self.task = task
        self.expected = expected
        self.priority = priority
    }

    /// Reads and parses a tasks file.
    /// - Throws: `AgentError.cannotRead` or what `parse` throws.
    public static func load(path: String) throws -> [SwarmTask] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw AgentError.cannotRead(what: "tasks", path: path) }
        return try parse(text, file: path)
    }

    /// The trajectories of a swarm's finished runs (`runs[i]` ran `tasks[i]`; nil: it failed),
    /// each rewarded when its task says what a correct answer holds.
    public static func trajectories(of runs: [AgentRun?], tasks: [SwarmTask], agent: String) -> [Trajectory] {
        zip(tasks, runs).compactMap { line, run in
            guard let run else { return nil }
            let reward = line.expected.map { SuiteTask.reward(run.answer, expected: $0) }
            return Trajectory(run: run, agent: agent, task: line.task, reward: reward)
        }
    }

    /// Parses JSON lines (blank lines skipped); `file` names the source in errors.
    ///
    /// - Throws: `AgentError` naming the file and line of the first bad line, or saying the file holds no tasks.
    public static func parse(_ text: String, file: String) throws -> [SwarmTask] {
        var tasks: [SwarmTask] = []
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
        where !raw.trimmingCharacters(in: .whitespaces).isEmpty {
            guard let task = try? JSONDecoder().decode(SwarmTask.self, from: Data(raw.utf8)) else {
                throw AgentError.invalidTaskLine(file: file, line: n + 1)
            }
            tasks.append(task)
        }
        guard !tasks.isEmpty else { throw AgentError.noTasks(file: file) }
        return tasks
    }
}
