import ColonyStore
import Foundation
import GRDB
import Testing

@Suite("SQLite store")
struct SQLiteStoreTests {
    static func tempPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("colony-\(UUID().uuidString).sqlite").path
    }

    @Test("runs, pending calls and steps survive reopening the file")
    func durability() async throws {
        let path = Self.tempPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            let store = try SQLiteStore(path: path)
            try await store.createRun(RunRecord(id: "r1", agent: "math", task: "2+2"))
            try await store.recordPendingCalls(runID: "r1", [PendingCall(step: 0, position: 0, name: "calculator", arguments: "{}")])
            try await store.completeStep(
                runID: "r1", StepRecord(index: 0, callsJSON: "[]", resultsJSON: "[]", promptTokens: 3, completionTokens: 4))
            try await store.recordPendingCalls(
                runID: "r1", [PendingCall(step: 1, position: 0, name: "calculator", arguments: #"{"expression":"1"}"#)])
        }
        let reopened = try SQLiteStore(path: path)
        #expect(try await reopened.run(id: "r1") == RunRecord(id: "r1", agent: "math", task: "2+2"))
        #expect(try await reopened.steps(runID: "r1").map(\.index) == [0])
        #expect(
            try await reopened.pendingCalls(runID: "r1") == [
                PendingCall(step: 1, position: 0, name: "calculator", arguments: #"{"expression":"1"}"#)
            ])
        try await reopened.finishRun(id: "r1", status: "answered", answer: "4")
        #expect(try await reopened.run(id: "r1")?.answer == "4")
        #expect(try await reopened.run(id: "nope") == nil)
    }

    @Test("memory search ranks by BM25 within a namespace, and query text is never syntax")
    func memory() async throws {
        let store = try SQLiteStore(path: ":memory:")
        _ = try await store.saveMemory(namespace: "a", text: "The capital of France is Paris.")
        _ = try await store.saveMemory(namespace: "a", text: "Paris has many museums; Paris is large.")
        _ = try await store.saveMemory(namespace: "a", text: "Bananas are yellow.")
        _ = try await store.saveMemory(namespace: "b", text: "Paris is also a city in Texas.")
        let hits = try await store.searchMemory(namespace: "a", query: "paris museums", limit: 5)
        #expect(hits.map(\.text) == ["Paris has many museums; Paris is large.", "The capital of France is Paris."])
        #expect(try await store.searchMemory(namespace: "a", query: "\"AND OR NEAR( *", limit: 5).isEmpty)
        #expect(try await store.searchMemory(namespace: "b", query: "paris", limit: 5).count == 1)
        #expect(try await store.searchMemory(namespace: "a", query: "paris", limit: 1).count == 1)
    }

    @Test("many connections opening one fresh file at once all succeed (the schema is applied once)")
    func concurrentOpen() async throws {
        // Real threads, several rounds: before the fix about one round in three lost the race
        // ("table runs already exists"). `colonyTests` checks the same with processes.
        for round in 0..<10 {
            let path = Self.tempPath()
            defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
            let failures = Failures()
            DispatchQueue.concurrentPerform(iterations: 8) { _ in
                do { _ = try SQLiteStore(path: path) } catch { failures.append("\(error)") }
            }
            #expect(failures.all == [], "round \(round)")
            let store = try SQLiteStore(path: path)
            try await store.createRun(RunRecord(id: "r", agent: "a", task: "t"))
            #expect(try await store.run(id: "r") == RunRecord(id: "r", agent: "a", task: "t"))
        }
    }

    @Test("a database written by the previous version (GRDB's migrator) opens with its data")
    func previousVersionDatabase() async throws {
        let path = Self.tempPath()
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        do {
            // What SQLiteStore.init did before the schema moved to SQLiteSchema.
            let queue = try DatabaseQueue(path: path)
            try await queue.writeWithoutTransaction { try $0.execute(sql: "PRAGMA journal_mode = WAL") }
            var migrator = DatabaseMigrator()
            migrator.registerMigration("v1") { db in
                try db.execute(
                    sql: """
                        CREATE TABLE runs (id TEXT PRIMARY KEY, agent TEXT NOT NULL, task TEXT NOT NULL,
                                           status TEXT NOT NULL, answer TEXT, spec TEXT, created REAL NOT NULL);
                        CREATE TABLE steps (run_id TEXT NOT NULL REFERENCES runs(id), idx INTEGER NOT NULL,
                                            calls TEXT NOT NULL, results TEXT NOT NULL,
                                            prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL,
                                            PRIMARY KEY (run_id, idx));
                        CREATE TABLE pending_calls (run_id TEXT NOT NULL REFERENCES runs(id), step INTEGER NOT NULL,
                                                    position INTEGER NOT NULL, name TEXT NOT NULL, arguments TEXT NOT NULL,
                                                    PRIMARY KEY (run_id, step, position));
                        CREATE TABLE memories (id INTEGER PRIMARY KEY AUTOINCREMENT, namespace TEXT NOT NULL,
                                               text TEXT NOT NULL, created REAL NOT NULL);
                        CREATE VIRTUAL TABLE memories_fts USING fts5(text, content='memories', content_rowid='id');
                        CREATE TRIGGER memories_ai AFTER INSERT ON memories BEGIN
                            INSERT INTO memories_fts(rowid, text) VALUES (new.id, new.text);
                        END;
                        """)
            }
            try migrator.migrate(queue)
            try await queue.write { db in
                try db.execute(
                    sql: """
                        INSERT INTO runs (id, agent, task, status, answer, spec, created) VALUES ('old', 'math', '2+2', 'answered', '4', NULL, 0)
                        """)
                try db.execute(sql: "INSERT INTO memories (namespace, text, created) VALUES ('math', 'two and two make four', 0)")
            }
        }
        let store = try SQLiteStore(path: path)
        #expect(try await store.run(id: "old") == RunRecord(id: "old", agent: "math", task: "2+2", status: "answered", answer: "4"))
        #expect(try await store.searchMemory(namespace: "math", query: "four", limit: 5).map(\.id) == [1])
        try await store.createRun(RunRecord(id: "new", agent: "math", task: "3+3"))
        #expect(try await store.run(id: "new")?.task == "3+3")
    }
}

/// Error texts collected from several threads.
final class Failures: @unchecked Sendable {
    // Every access holds `lock`, which makes the unchecked Sendable safe.
    private let lock = NSLock()
    private var texts: [String] = []

    func append(_ text: String) { lock.withLock { texts.append(text) } }
    var all: [String] { lock.withLock { texts } }
}
