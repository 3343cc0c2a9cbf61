import Foundation
import GRDB

/// The embedded `RunStore`, `MemoryStore` and `RegistryStore`: one SQLite file (WAL mode) through GRDB, with an FTS5 index over
/// memories for BM25-ranked search. Several processes may open the same file.
public final class SQLiteStore: RunStore, MemoryStore {
    let db: DatabaseQueue

    /// Opens (and migrates) the database at `path`, creating it and its folder when
    /// missing; ":memory:" for a private in-memory one.
    ///
    /// Safe to call from many processes at once on the same file, fresh or not: the
    /// schema is applied under an exclusive lock (see `SQLiteSchema`).
    public init(path: String) throws {
        let folder = (path as NSString).deletingLastPathComponent
        if path != ":memory:", !folder.isEmpty {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        }
        // Other processes (`colony agents show` during a run) read the same file: WAL lets
        // them read while a step is written, and a busy timeout makes writers wait, not fail.
        var config = Configuration()
        config.busyMode = .timeout(10)
        db = path == ":memory:" ? try DatabaseQueue(configuration: config) : try DatabaseQueue(path: path, configuration: config)
        // Not `config.journalMode = .wal`: that also lowers `synchronous` to NORMAL, and a
        // write must survive a power cut once the call returns.
        if path != ":memory:" {
            try Self.retryingWhileBusy { try db.writeWithoutTransaction { try $0.execute(sql: "PRAGMA journal_mode = WAL") } }
        }
        try db.writeWithoutTransaction(SQLiteSchema.migrate)
    }

    /// Runs `body` again while SQLite says the database is busy, for up to 10 s. Switching a
    /// fresh file to WAL while other connections open it can be refused at once, without
    /// the busy handler (SQLite will not wait there, to avoid a deadlock).
    private static func retryingWhileBusy(_ body: () throws -> Void) throws {
        let deadline = Date().addingTimeInterval(10)
        while true {
            do { return try body() } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY && Date() < deadline {
                Thread.sleep(forTimeInterval: 0.02)
            }
        }
    }

    public func createRun(_ run: RunRecord) async throws {
        try await db.write { db in
            try db.execute(
                sql: "INSERT INTO runs (id, agent, task, status, answer, spec, created) VALUES (?, ?, ?, ?, ?, ?, ?)",
                arguments: [run.id, run.agent, run.task, run.status, run.answer, run.spec, Date().timeIntervalSince1970])
        }
    }

    public func finishRun(id: String, status: String, answer: String?) async throws {
        try await db.write { db in
            try db.execute(sql: "UPDATE runs SET status = ?, answer = ? WHERE id = ?", arguments: [status, answer, id])
        }
    }

    public func run(id: String) async throws -> RunRecord? {
        try await db.read { db in
            try Row.fetchOne(db, sql: "SELECT id, agent, task, status, answer, spec FROM runs WHERE id = ?", arguments: [id]).map {
                RunRecord(id: $0["id"], agent: $0["agent"], task: $0["task"], status: $0["status"], answer: $0["answer"], spec: $0["spec"])
            }
        }
    }

    public func recordPendingCalls(runID: String, _ calls: [PendingCall]) async throws {
        try await db.write { db in
            for c in calls {
                try db.execute(
                    sql: "INSERT OR REPLACE INTO pending_calls (run_id, step, position, name, arguments) VALUES (?, ?, ?, ?, ?)",
                    arguments: [runID, c.step, c.position, c.name, c.arguments])
            }
        }
    }

    public func pendingCalls(runID: String) async throws -> [PendingCall] {
        try await db.read { db in
            try Row.fetchAll(
                db, sql: "SELECT step, position, name, arguments FROM pending_calls WHERE run_id = ? ORDER BY step, position",
                arguments: [runID]
            ).map { PendingCall(step: $0["step"], position: $0["position"], name: $0["name"], arguments: $0["arguments"]) }
        }
    }

    public func completeStep(runID: String, _ s: StepRecord) async throws {
        try await db.write { db in
            try db.execute(
                sql: "INSERT INTO steps (run_id, idx, calls, results, prompt_tokens, completion_tokens) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [runID, s.index, s.callsJSON, s.resultsJSON, s.promptTokens, s.completionTokens])
            try db.execute(sql: "DELETE FROM pending_calls WHERE run_id = ? AND step = ?", arguments: [runID, s.index])
        }
    }

    public func steps(runID: String) async throws -> [StepRecord] {
        try await db.read { db in
            try Row.fetchAll(
                db, sql: "SELECT idx, calls, results, prompt_tokens, completion_tokens FROM steps WHERE run_id = ? ORDER BY idx",
                arguments: [runID]
            ).map {
                StepRecord(
                    index: $0["idx"], callsJSON: $0["calls"], resultsJSON: $0["results"],
                    promptTokens: $0["prompt_tokens"], completionTokens: $0["completion_tokens"])
            }
        }
    }

    public func saveMemory(namespace: String, text: String) async throws -> Int64 {
        try await db.write { db in
            try db.execute(
                sql: "INSERT INTO memories (namespace, text, created) VALUES (?, ?, ?)",
                arguments: [namespace, text, Date().timeIntervalSince1970])
            return db.lastInsertedRowID
        }
    }

    public func searchMemory(namespace: String, query: String, limit: Int) async throws -> [MemoryHit] {
        // Words become quoted FTS5 terms joined by OR: user text can never be read as query syntax.
        let terms = query.split { !$0.isLetter && !$0.isNumber }.map { "\"\($0)\"" }
        guard !terms.isEmpty, limit > 0 else { return [] }
        return try await db.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT m.id, m.text, bm25(memories_fts) AS score FROM memories_fts
                    JOIN memories m ON m.id = memories_fts.rowid
                    WHERE memories_fts MATCH ? AND m.namespace = ? ORDER BY score LIMIT ?
                    """, arguments: [terms.joined(separator: " OR "), namespace, limit]
            ).map {
                MemoryHit(id: $0["id"], text: $0["text"], score: $0["score"])
            }
        }
    }
}
