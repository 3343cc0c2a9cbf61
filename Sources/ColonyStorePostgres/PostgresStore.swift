import ColonyStore
import Foundation
import Logging
import PostgresNIO

/// The shared `RunStore`, `MemoryStore` and `RegistryStore`: one PostgreSQL database that
/// every node of a cluster reaches (`--store postgres://user[:password]@host[:port]/db`).
/// Memories are searched with PostgreSQL's full-text search (`simple` dictionary, ranked by
/// `ts_rank`). Tables live in `schema` (default `public`), created when missing under an
/// advisory lock, so several processes may open a fresh database at once.
public final class PostgresStore: RunStore, MemoryStore, RegistryStore, Sendable {
    let client: PostgresClient
    private let runner: Task<Void, Never>
    /// The schema, applied once before the first query.
    private let ready: Task<Void, any Error>
    private let logger = Logger(label: "colony.store.postgres")

    /// Connects to `url`; tables go in `schema`. A server that does not answer within the
    /// URL's `connect_timeout` (seconds, as libpq reads it; default 15) fails the first call
    /// with `unreachable` instead of leaving it waiting.
    public init(url: String, schema: String = "public") throws {
        guard let parts = URLComponents(string: url), ["postgres", "postgresql"].contains(parts.scheme ?? ""), let host = parts.host else {
            throw PostgresStoreError.badURL(url)
        }
        guard schema.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }), !schema.isEmpty else {
            throw PostgresStoreError.badSchema(schema)
        }
        var config = PostgresClient.Configuration(
            host: host, port: parts.port ?? 5432, username: parts.user ?? "postgres", password: parts.password,
            database: parts.path.count > 1 ? String(parts.path.dropFirst()) : nil, tls: .disable)
        config.options.additionalStartupParameters = [("search_path", schema)]
        let client = PostgresClient(configuration: config)
        self.client = client
        runner = Task { await client.run() }
        let endpoint = "\(host):\(parts.port ?? 5432)"
        let seconds = parts.queryItems?.first { $0.name == "connect_timeout" }?.value.flatMap(Int.init) ?? 15
        let timeout = Duration.seconds(max(1, seconds))
        ready = Task {
            try await withThrowingTaskGroup(of: Bool.self) { group in
                group.addTask {
                    try await client.withTransaction(logger: Logger(label: "colony.store.postgres")) { c in
                        // One process creates the tables; the others wait here and find them made.
                        try await c.query("SELECT pg_advisory_xact_lock(7318)", logger: Self.quiet)
                        try await c.query(PostgresQuery(unsafeSQL: "CREATE SCHEMA IF NOT EXISTS \(schema)"), logger: Self.quiet)
                        for statement in Self.schema { try await c.query(PostgresQuery(unsafeSQL: statement), logger: Self.quiet) }
                    }
                    return true
                }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    return false
                }
                let connected = try await group.next() ?? false
                group.cancelAll()
                guard connected else { throw PostgresStoreError.unreachable(endpoint, after: timeout) }
            }
        }
    }

    deinit { runner.cancel() }

    static let quiet = Logger(label: "colony.store.postgres.query")

    static let schema = [
        """
        CREATE TABLE IF NOT EXISTS runs (id TEXT PRIMARY KEY, agent TEXT NOT NULL, task TEXT NOT NULL, status TEXT NOT NULL,
                                         answer TEXT, spec TEXT, created DOUBLE PRECISION NOT NULL)
        """,
        """
        CREATE TABLE IF NOT EXISTS steps (run_id TEXT NOT NULL REFERENCES runs(id), idx INTEGER NOT NULL, calls TEXT NOT NULL,
                                          results TEXT NOT NULL, prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL,
                                          PRIMARY KEY (run_id, idx))
        """,
        """
        CREATE TABLE IF NOT EXISTS pending_calls (run_id TEXT NOT NULL REFERENCES runs(id), step INTEGER NOT NULL,
                                                  position INTEGER NOT NULL, name TEXT NOT NULL, arguments TEXT NOT NULL,
                                                  PRIMARY KEY (run_id, step, position))
        """,
        """
        CREATE TABLE IF NOT EXISTS memories (id BIGSERIAL PRIMARY KEY, namespace TEXT NOT NULL, text TEXT NOT NULL,
                                             created DOUBLE PRECISION NOT NULL,
                                             words tsvector GENERATED ALWAYS AS (to_tsvector('simple', text)) STORED)
        """,
        "CREATE INDEX IF NOT EXISTS memories_words ON memories USING GIN (words)",
        """
        CREATE TABLE IF NOT EXISTS model_versions (id TEXT PRIMARY KEY, digest TEXT NOT NULL, name TEXT NOT NULL, parent TEXT,
                                                   config TEXT, data_digest TEXT, eval TEXT, run TEXT, created BIGINT NOT NULL)
        """,
        """
        CREATE TABLE IF NOT EXISTS model_refs (name TEXT NOT NULL, ref TEXT NOT NULL, version TEXT NOT NULL REFERENCES model_versions(id),
                                               PRIMARY KEY (name, ref))
        """,
        """
        CREATE TABLE IF NOT EXISTS model_ref_log (seq BIGSERIAL PRIMARY KEY, name TEXT NOT NULL, ref TEXT NOT NULL, from_version TEXT,
                                                  to_version TEXT NOT NULL, action TEXT NOT NULL, who TEXT NOT NULL, why TEXT,
                                                  at BIGINT NOT NULL)
        """,
    ]

    /// Runs `body` in a transaction once the schema is in place.
    func transaction<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        try await ready.value
        return try await client.withTransaction(logger: logger) { c in try await body(c) }
    }

    /// Runs one query once the schema is in place.
    @discardableResult
    func query(_ q: PostgresQuery) async throws -> PostgresRowSequence {
        try await ready.value
        return try await client.query(q, logger: Self.quiet)
    }

    // MARK: RunStore

    public func createRun(_ run: RunRecord) async throws {
        try await query(
            """
            INSERT INTO runs (id, agent, task, status, answer, spec, created)
            VALUES (\(run.id), \(run.agent), \(run.task), \(run.status), \(run.answer), \(run.spec), \(Date().timeIntervalSince1970))
            """)
    }

    public func finishRun(id: String, status: String, answer: String?) async throws {
        try await query("UPDATE runs SET status = \(status), answer = \(answer) WHERE id = \(id)")
    }

    public func run(id: String) async throws -> RunRecord? {
        let rows = try await query("SELECT id, agent, task, status, answer, spec FROM runs WHERE id = \(id)")
        for try await (id, agent, task, status, answer, spec) in rows.decode((String, String, String, String, String?, String?).self) {
            return RunRecord(id: id, agent: agent, task: task, status: status, answer: answer, spec: spec)
        }
        return nil
    }

    public func recordPendingCalls(runID: String, _ calls: [PendingCall]) async throws {
        try await transaction { c in
            for call in calls {
                try await c.query(
                    """
                    INSERT INTO pending_calls (run_id, step, position, name, arguments)
                    VALUES (\(runID), \(call.step), \(call.position), \(call.name), \(call.arguments))
                    ON CONFLICT (run_id, step, position) DO UPDATE SET name = EXCLUDED.name, arguments = EXCLUDED.arguments
                    """, logger: Self.quiet)
            }
        }
    }

    public func pendingCalls(runID: String) async throws -> [PendingCall] {
        let rows = try await query(
            "SELECT step, position, name, arguments FROM pending_calls WHERE run_id = \(runID) ORDER BY step, position")
        var out: [PendingCall] = []
        for try await (step, position, name, arguments) in rows.decode((Int, Int, String, String).self) {
            out.append(PendingCall(step: step, position: position, name: name, arguments: arguments))
        }
        return out
    }

    public func completeStep(runID: String, _ s: StepRecord) async throws {
        try await transaction { c in
            try await c.query(
                """
                INSERT INTO steps (run_id, idx, calls, results, prompt_tokens, completion_tokens)
                VALUES (\(runID), \(s.index), \(s.callsJSON), \(s.resultsJSON), \(s.promptTokens), \(s.completionTokens))
                """, logger: Self.quiet)
            try await c.query("DELETE FROM pending_calls WHERE run_id = \(runID) AND step = \(s.index)", logger: Self.quiet)
        }
    }

    public func steps(runID: String) async throws -> [StepRecord] {
        let rows = try await query(
            "SELECT idx, calls, results, prompt_tokens, completion_tokens FROM steps WHERE run_id = \(runID) ORDER BY idx")
        var out: [StepRecord] = []
        for try await (index, calls, results, prompt, completion) in rows.decode((Int, String, String, Int, Int).self) {
            out.append(StepRecord(index: index, callsJSON: calls, resultsJSON: results, promptTokens: prompt, completionTokens: completion))
        }
        return out
    }

    // MARK: MemoryStore

    public func saveMemory(namespace: String, text: String) async throws -> Int64 {
        let rows = try await query(
            "INSERT INTO memories (namespace, text, created) VALUES (\(namespace), \(text), \(Date().timeIntervalSince1970)) RETURNING id")
        for try await id in rows.decode(Int64.self) { return id }
        throw PostgresStoreError.noRow("INSERT INTO memories … RETURNING id")
    }

    public func searchMemory(namespace: String, query text: String, limit: Int) async throws -> [MemoryHit] {
        // Words (letters and digits) joined by OR: user text is never read as query syntax.
        let words = text.split { !$0.isLetter && !$0.isNumber }.map { $0.lowercased() }
        guard !words.isEmpty, limit > 0 else { return [] }
        let tsquery = words.joined(separator: " | ")
        let rows = try await query(
            """
            SELECT id, text, -ts_rank(words, q)::float8 AS score FROM memories, to_tsquery('simple', \(tsquery)) q
            WHERE namespace = \(namespace) AND words @@ q ORDER BY score, id LIMIT \(limit)
            """)
        var out: [MemoryHit] = []
        for try await (id, text, score) in rows.decode((Int64, String, Double).self) {
            out.append(MemoryHit(id: id, text: text, score: score))
        }
        return out
    }
}

/// Why a PostgreSQL store cannot be opened or used.
public enum PostgresStoreError: Error, CustomStringConvertible {
    case badURL(String)
    case badSchema(String)
    case noRow(String)
    case unreachable(String, after: Duration)

    public var description: String {
        switch self {
        case .badURL(let url): "'\(url)' is not a PostgreSQL URL; expected postgres://user[:password]@host[:port]/database"
        case .badSchema(let s): "'\(s)' is not a schema name (letters, digits and '_')"
        case .noRow(let q): "PostgreSQL returned no row for \(q)"
        case .unreachable(let endpoint, let after):
            "PostgreSQL at \(endpoint) did not answer within \(after.components.seconds) s; is it running, and does it accept this user and database?"
        }
    }
}
