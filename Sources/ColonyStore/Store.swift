import Foundation

/// A run of an agent as stored.
public struct RunRecord: Sendable, Equatable, Codable {
    public var id: String
    public var agent: String
    public var task: String
    /// "running", "answered", "max_steps", "budget".
    public var status: String
    public var answer: String?
    /// The agent's spec as written (YAML), so a run can be resumed from the store alone.
    public var spec: String?

    public init(id: String, agent: String, task: String, status: String = "running", answer: String? = nil, spec: String? = nil) {
        self.id = id
        self.agent = agent
        self.task = task
        self.status = status
        self.answer = answer
        self.spec = spec
    }
}

/// A completed step: the calls the model made and their results, as JSON arrays.
public struct StepRecord: Sendable, Equatable, Codable {
    public var index: Int
    public var callsJSON: String
    public var resultsJSON: String
    public var promptTokens: Int
    public var completionTokens: Int

    public init(index: Int, callsJSON: String, resultsJSON: String, promptTokens: Int, completionTokens: Int) {
        self.index = index
        self.callsJSON = callsJSON
        self.resultsJSON = resultsJSON
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
    }
}

/// A tool call written before it runs, so a crash leaves a record of it.
public struct PendingCall: Sendable, Equatable, Codable {
    public var step: Int
    public var position: Int
    public var name: String
    public var arguments: String

    public init(step: Int, position: Int, name: String, arguments: String) {
        self.step = step
        self.position = position
        self.name = name
        self.arguments = arguments
    }
}

/// A long-term memory found by full-text search, best first.
public struct MemoryHit: Sendable, Equatable {
    public var id: Int64
    public var text: String
    /// BM25 score (lower is better, as SQLite reports it).
    public var score: Double
}

/// Where runs, steps and memories live. Two backends are planned: SQLite (embedded, this
/// package's `SQLiteStore`) and PostgreSQL (multi-node).
///
/// Contract for conformers: every write is durable when the call returns (a `kill -9`
/// right after loses nothing), and `completeStep` removes that step's pending calls in
/// the same transaction, so a step is either pending or complete, never both.
public protocol Store: Sendable {
    func createRun(_ run: RunRecord) async throws
    func finishRun(id: String, status: String, answer: String?) async throws
    func run(id: String) async throws -> RunRecord?
    func recordPendingCalls(runID: String, _ calls: [PendingCall]) async throws
    func pendingCalls(runID: String) async throws -> [PendingCall]
    func completeStep(runID: String, _ step: StepRecord) async throws
    func steps(runID: String) async throws -> [StepRecord]
    func saveMemory(namespace: String, text: String) async throws -> Int64
    func searchMemory(namespace: String, query: String, limit: Int) async throws -> [MemoryHit]
}
