import ColonyAgents
import ColonyBench
import Testing

@testable import ColonyAgents

@Suite("Swarm summary by priority")
struct SwarmPriorityLinesTests {
    func run(_ seconds: [Double]) -> AgentRun {
        let steps = seconds.enumerated().map { i, s in
            AgentStep(index: i, toolCalls: [], results: [], promptTokens: 1, completionTokens: 1, seconds: s)
        }
        return AgentRun(id: "r", answer: "4", finish: .answered, steps: steps, messages: [])
    }

    @Test(
        "step latency is split by task priority, most urgent first (percentiles interpolated); failed runs counted; one priority prints nothing"
    )
    func lines() {
        let tasks = [
            SwarmTask(task: "a", priority: 2), SwarmTask(task: "b", priority: -1), SwarmTask(task: "c", priority: 2),
            SwarmTask(task: "d"),
        ]
        let runs: [AgentRun?] = [run([0.1, 0.3]), run([2.0]), nil, run([1.0])]
        let text = SwarmSummary.priorityLines(runs: runs, tasks: tasks)
        #expect(
            text == """
                priority 2      2 runs (1 failed), step latency p50 200 ms, p99 298 ms
                priority 0      1 runs (0 failed), step latency p50 1000 ms, p99 1000 ms
                priority -1     1 runs (0 failed), step latency p50 2000 ms, p99 2000 ms

                """)
        #expect(SwarmSummary.priorityLines(runs: runs, tasks: tasks.map { SwarmTask(task: $0.task) }).isEmpty)
    }
}
