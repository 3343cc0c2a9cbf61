import Foundation

/// What `colony bench agents` reports: a table, or one JSON object with today's snake_case keys.
public struct AgentsBenchReport: Codable, Sendable {
    public var agents: Int
    public var tasks: Int
    public var agentSteps: Int
    public var agentSeconds: Double
    public var agentStepsPerSecond: Double
    public var agentTokensPerSecond: Double
    public var engineRequests: Int
    public var engineSeconds: Double
    public var engineRequestsPerSecond: Double
    public var agentShareOfEngine: Double
    /// Whether the second agent run made the requests the first recorded (same steps and tokens).
    public var sameRequestsAsRecorded: Bool
    public var runtimeMsPerStep: Double
    public var success: Int
    public var graded: Int

    enum CodingKeys: String, CodingKey {
        case agents, tasks, success, graded
        case agentSteps = "agent_steps"
        case agentSeconds = "agent_seconds"
        case agentStepsPerSecond = "agent_steps_per_second"
        case agentTokensPerSecond = "agent_tokens_per_second"
        case engineRequests = "engine_requests"
        case engineSeconds = "engine_seconds"
        case engineRequestsPerSecond = "engine_requests_per_second"
        case agentShareOfEngine = "agent_share_of_engine"
        case sameRequestsAsRecorded = "same_requests_as_recorded"
        case runtimeMsPerStep = "runtime_ms_per_step"
    }

    /// The human-readable form.
    public var table: String {
        String(
            format: """
                agents          %d at once, %d tasks, %d/%d answered correctly
                agents          %d steps in %.2f s: %.1f steps/s, %.0f tokens/s
                engine alone    %d requests in %.2f s: %.1f requests/s
                agents/engine   %.1f%%%@
                runtime cost    %.3f ms per step (instant model; prompts, tools, durable store)

                """, agents, tasks, success, graded, agentSteps, agentSeconds, agentStepsPerSecond, agentTokensPerSecond,
            engineRequests, engineSeconds, engineRequestsPerSecond, agentShareOfEngine * 100,
            sameRequestsAsRecorded ? "" : " (the second agent run made different requests; compare with care)",
            runtimeMsPerStep)
    }
}
