import ColonyStore
import Foundation
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
            try await store.completeStep(runID: "r1", StepRecord(index: 0, callsJSON: "[]", resultsJSON: "[]", promptTokens: 3, completionTokens: 4))
            try await store.recordPendingCalls(runID: "r1", [PendingCall(step: 1, position: 0, name: "calculator", arguments: #"{"expression":"1"}"#)])
        }
        let reopened = try SQLiteStore(path: path)
        #expect(try await reopened.run(id: "r1") == RunRecord(id: "r1", agent: "math", task: "2+2"))
        #expect(try await reopened.steps(runID: "r1").map(\.index) == [0])
        #expect(try await reopened.pendingCalls(runID: "r1") == [PendingCall(step: 1, position: 0, name: "calculator", arguments: #"{"expression":"1"}"#)])
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
}
