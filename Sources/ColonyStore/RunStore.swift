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

/// Where agent runs live: the run, its completed steps and the tool calls of the step in
/// flight. Backends: SQLite (embedded, `SQLiteStore`); PostgreSQL (shared by every node,
/// `PostgresStore` in ColonyStorePostgres).
///
/// Contract for conformers (`StoreConformanceTests` checks every point on every backend):
/// - Every write is durable when the call returns: a `kill -9` right after loses nothing,
///   and a store opened later on the same database reads it back unchanged.
/// - Opening a store on one database from many processes at once is safe; so are
///   concurrent calls on one instance and on different instances.
/// - `createRun` stores the record as given and throws when a run with that id exists.
/// - `run(id:)` returns exactly what was stored (after any `finishRun`), `nil` for an
///   unknown id.
/// - `recordPendingCalls` replaces a call recorded before at the same step and position;
///   `pendingCalls` lists a run's calls ordered by step, then position.
/// - `completeStep` stores the step and removes that step's pending calls in one
///   transaction, so a step is either pending or complete, never both; completing a step
///   index twice throws and changes nothing.
/// - `steps` lists a run's completed steps ordered by index.
/// - Nothing of one run is visible through another run's id.
public protocol RunStore: Sendable {
    /// Stores a new run; throws if `run.id` is taken.
    func createRun(_ run: RunRecord) async throws
    /// Sets the final status and answer of a run.
    func finishRun(id: String, status: String, answer: String?) async throws
    /// The run with this id, or `nil`.
    func run(id: String) async throws -> RunRecord?
    /// Writes tool calls before they run (replacing any at the same step and position).
    func recordPendingCalls(runID: String, _ calls: [PendingCall]) async throws
    /// The run's calls whose step has not completed, by step and position.
    func pendingCalls(runID: String) async throws -> [PendingCall]
    /// Stores a completed step and drops its pending calls, atomically.
    func completeStep(runID: String, _ step: StepRecord) async throws
    /// The run's completed steps by index.
    func steps(runID: String) async throws -> [StepRecord]
}
