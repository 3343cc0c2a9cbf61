import ColonyAgents
import Foundation

extension SwarmSummary {
    /// Step latency at quantile q, in milliseconds (`Statistics.percentile`).
    public func stepLatencyMilliseconds(_ q: Double) -> Double {
        Statistics.percentile(sorted: stepSeconds, q) * 1000
    }

    /// What `colony agents swarm` prints: `agents` at once over `seconds` of wall time.
    public func table(agents: Int, seconds: Double) -> String {
        let steps = stepSeconds.count
        let success =
            graded == 0 ? "n/a (no expected answers)" : "\(solved)/\(graded) (\(Int((100 * Double(solved) / Double(graded)).rounded()))%)"
        return String(
            format: """
                runs            %d (%d failed), %d agents at once, %.1f s
                success         %@
                steps           %d (%.1f steps/s), step latency p50 %.0f ms, p99 %.0f ms
                tokens          %d (%.0f tokens/s)

                """, runs, failed, agents, seconds, success, steps, Double(steps) / seconds,
            stepLatencyMilliseconds(0.5), stepLatencyMilliseconds(0.99), tokens, Double(tokens) / seconds)
    }
}

extension SwarmSummary {
    /// Step latency by task priority, most urgent first, one line each: what `colony agents
    /// swarm` adds when its tasks have more than one priority. Empty when they all share one.
    public static func priorityLines(runs: [AgentRun?], tasks: [SwarmTask]) -> String {
        let levels = Set(tasks.map { $0.priority ?? 0 })
        guard levels.count > 1 else { return "" }
        return levels.sorted(by: >).map { level in
            let mine = tasks.indices.filter { (tasks[$0].priority ?? 0) == level }
            let s = SwarmSummary(runs: mine.map { runs[$0] }, expected: mine.map { tasks[$0].expected })
            return String(
                format: "priority %-6d %d runs (%d failed), step latency p50 %.0f ms, p99 %.0f ms\n", level, s.runs, s.failed,
                s.stepLatencyMilliseconds(0.5), s.stepLatencyMilliseconds(0.99))
        }.joined()
    }
}
