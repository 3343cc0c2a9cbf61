import ColonyModels
import ColonyStore
import Foundation

/// Tasks with answers a program can check: the yardstick for agent quality now and the
/// reward for learning later.
public struct SuiteTask: Sendable {
    public var name: String
    /// Tasks run in order within one agent namespace: a later task may need what an
    /// earlier one saved to memory.
    public var prompts: [String]
    /// Text the final answer of the last prompt must contain.
    public var expected: String
    /// When set, the task is for a supervisor that has no calculator and must delegate to
    /// a worker agent of this name (which has one); the reward also requires that it did.
    public var worker: String?
    /// The agent's instructions for this task, when not `TaskSuite.instructions` (a
    /// generated family may carry a worked example its model needs).
    public var instructions: String?
    /// When set, the agent's tools are this MCP server's (see `TaskSuite.run`'s `servers`)
    /// instead of the calculator and memory.
    public var toolServer: String?

    public init(
        name: String, prompts: [String], expected: String, worker: String? = nil, instructions: String? = nil, toolServer: String? = nil
    ) {
        self.name = name
        self.prompts = prompts
        self.expected = expected
        self.worker = worker
        self.instructions = instructions
        self.toolServer = toolServer
    }

    /// 1 when the answer holds the expected answer, else 0 (see the static `reward`).
    public func reward(_ answer: String?) -> Double { Self.reward(answer, expected: expected) }

    /// 1 when `answer` holds `expected`, else 0. A number is matched as a number: some
    /// number in the answer (thousands separators ignored) equals it, so "21.0" answers 21
    /// but "21.5" does not, nor "3000" 300. Other text must appear as written.
    public static func reward(_ answer: String?, expected: String) -> Double {
        let text = (answer ?? "").replacingOccurrences(of: ",", with: "")
        guard let number = Double(expected) else { return text.contains(expected) ? 1 : 0 }
        return text.matches(of: /-?[0-9]+(\.[0-9]+)?/).contains { Double($0.output.0) == number } ? 1 : 0
    }
}

/// One suite task's outcome.
public struct SuiteResult: Sendable {
    public var task: SuiteTask
    /// Every run the task made, in order: one per prompt, then any worker runs.
    public var runs: [AgentRun]
    /// The run whose answer is graded (the last prompt's).
    public var graded: AgentRun
    public var reward: Double

    /// Steps over every run of the task (workers' included).
    public var steps: Int { runs.reduce(0) { $0 + $1.steps.count } }
    /// Prompt plus completion tokens over every step of every run.
    public var tokens: Int { runs.reduce(0) { $0 + $1.steps.reduce(0) { $0 + $1.promptTokens + $1.completionTokens } } }
}

public enum TaskSuite {
    public static let instructions =
        "Solve the task. Use the calculator for arithmetic and memory to keep or recall facts, then give the final answer."
    public static let supervisorInstructions =
        "You cannot compute yourself. Send the arithmetic to the worker agent with send_message, then give its result as the final answer."

    public static let tasks: [SuiteTask] = [
        SuiteTask(name: "multiply", prompts: ["What is 17 * 23?"], expected: "391"),
        SuiteTask(name: "mixed", prompts: ["What is 144 / 12 + 5?"], expected: "17"),
        SuiteTask(name: "parentheses", prompts: ["What is (25 - 7) * 3?"], expected: "54"),
        SuiteTask(name: "power", prompts: ["What is 2 ^ 10?"], expected: "1024"),
        SuiteTask(name: "recall", prompts: ["Remember this fact: the secret code is 4721.", "What is the secret code?"], expected: "4721"),
        SuiteTask(name: "delegate", prompts: ["What is 37 * 12? Ask the worker to compute it."], expected: "444", worker: "worker"),
    ]

    /// Runs one task with fresh agents in a namespace of their own. `servers` holds the
    /// tools of the MCP servers tasks may name (`SuiteTask.toolServer`), by server name.
    ///
    /// A delegation task's reward is 1 only when the answer is right *and* the supervisor
    /// got it through `send_message`, so a lucky guess does not count.
    public static func run(
        _ task: SuiteTask, client: any LLMClient, store: any RunStore & MemoryStore, maxSteps: Int = 4, maxTokensPerStep: Int = 96,
        sampling: SamplingParameters = .greedy, servers: [String: [any Tool]] = [:]
    ) async throws -> SuiteResult {
        let namespace = "eval-\(task.name)-\(UUID().uuidString.prefix(8))"
        func spec(_ name: String, _ instructions: String, _ tools: [any Tool]) -> AgentSpec {
            var spec = AgentSpec(name: name, instructions: instructions, tools: tools)
            spec.maxSteps = maxSteps
            spec.maxTokensPerStep = maxTokensPerStep
            spec.sampling = sampling
            return spec
        }
        let taskInstructions = task.instructions ?? instructions
        var runs: [AgentRun] = []
        let agent: Agent
        let workerRuns = WorkerLog()
        if let worker = task.worker {
            let bus = MessageBus()
            let workerAgent = Agent(spec: spec(worker, instructions, [CalculatorTool()]), client: client)
            await bus.register(worker) { message in
                let run = try? await workerAgent.run(task: message.content, store: store)
                if let run { await workerRuns.append(run) }
                return run?.answer ?? "no answer (\(run?.finish.rawValue ?? "failed"))"
            }
            await bus.register(namespace)
            var supervisor = spec(namespace, supervisorInstructions, [SendMessageTool(bus: bus, sender: namespace, recipients: [worker])])
            // `send_message` waits for the worker's whole run: give it the time of that many steps.
            supervisor.toolTimeout *= Double(maxSteps)
            agent = Agent(spec: supervisor, client: client)
        } else if let server = task.toolServer {
            guard let tools = servers[server] else { throw AgentError.noToolServer(task: task.name, server: server) }
            agent = Agent(spec: spec(namespace, taskInstructions, tools), client: client)
        } else {
            agent = Agent(
                spec: spec(
                    namespace, taskInstructions,
                    [
                        CalculatorTool(), MemorySaveTool(store: store, namespace: namespace),
                        MemorySearchTool(store: store, namespace: namespace),
                    ]), client: client)
        }
        for prompt in task.prompts {
            runs.append(try await agent.run(task: prompt, store: store))
        }
        let graded = runs[runs.count - 1]
        var reward = task.reward(graded.answer)
        if task.worker != nil {
            let delegated = graded.steps.contains { step in
                zip(step.toolCalls, step.results).contains { call, result in call.name == "send_message" && !result.hasPrefix("error") }
            }
            if !delegated { reward = 0 }
        }
        // The server that answered learns how it went (one outcome per task: the answering
        // response). Best effort: a server without /v1/feedback (llama-server, vLLM) refuses it,
        // and the task's result stands either way.
        if let reporting = client as? any OutcomeReporting, let id = graded.lastResponseID {
            try? await reporting.report(response: id, reward: reward, success: reward == 1)
        }
        return SuiteResult(task: task, runs: runs + (await workerRuns.runs), graded: graded, reward: reward)
    }
}

/// The runs a worker made while answering a supervisor.
private actor WorkerLog {
    var runs: [AgentRun] = []
    func append(_ run: AgentRun) { runs.append(run) }
}
