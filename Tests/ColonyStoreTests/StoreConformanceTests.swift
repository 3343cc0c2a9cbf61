import ColonyStore
import Foundation
import Testing

/// The contract of `RunStore` and `MemoryStore`, checked with exact values on every backend.
@Suite("Store conformance")
struct StoreConformanceTests {
    static let call = PendingCall(step: 0, position: 0, name: "calculator", arguments: #"{"expression":"17*23"}"#)
    static let step0 = StepRecord(
        index: 0, callsJSON: #"[{"name":"calculator"}]"#, resultsJSON: #"["391"]"#,
        promptTokens: 31, completionTokens: 12)
    static let step1 = StepRecord(index: 1, callsJSON: "[]", resultsJSON: "[]", promptTokens: 40, completionTokens: 5)

    // MARK: - RunStore

    @Test("a run reads back exactly as created and finished; an unknown id is nil", arguments: StoreBackend.allCases)
    func runRoundTrip(_ backend: StoreBackend) async throws {
        let opened = try backend.open()
        let store = opened.store
        let record = RunRecord(id: "r1", agent: "math", task: "What is 17 * 23?", spec: "name: math\n")
        try await store.createRun(record)
        try await store.createRun(RunRecord(id: "r2", agent: "other", task: "t", status: "queued", answer: "early"))
        #expect(try await store.run(id: "r1") == record)
        #expect(
            try await store.run(id: "r2")
                == RunRecord(id: "r2", agent: "other", task: "t", status: "queued", answer: "early"))
        #expect(try await store.run(id: "nope") == nil)

        try await store.finishRun(id: "r1", status: "answered", answer: "391")
        #expect(
            try await store.run(id: "r1")
                == RunRecord(
                    id: "r1", agent: "math", task: "What is 17 * 23?", status: "answered", answer: "391",
                    spec: "name: math\n"))
        try await store.finishRun(id: "r2", status: "budget", answer: nil)
        #expect(try await store.run(id: "r2") == RunRecord(id: "r2", agent: "other", task: "t", status: "budget", answer: nil))
    }

    @Test("creating a run whose id exists throws and keeps the first", arguments: StoreBackend.allCases)
    func duplicateRun(_ backend: StoreBackend) async throws {
        let store = try backend.open().store
        try await store.createRun(RunRecord(id: "r1", agent: "a", task: "first"))
        await #expect(throws: (any Error).self) { try await store.createRun(RunRecord(id: "r1", agent: "b", task: "second")) }
        #expect(try await store.run(id: "r1") == RunRecord(id: "r1", agent: "a", task: "first"))
    }

    @Test("pending calls list by step and position; the same slot is replaced; runs are apart", arguments: StoreBackend.allCases)
    func pendingCalls(_ backend: StoreBackend) async throws {
        let store = try backend.open().store
        try await store.createRun(RunRecord(id: "r1", agent: "a", task: "t"))
        try await store.createRun(RunRecord(id: "r2", agent: "a", task: "t"))
        let late = PendingCall(step: 1, position: 0, name: "workspace.read", arguments: #"{"path":"a"}"#)
        let second = PendingCall(step: 0, position: 1, name: "memory.search", arguments: #"{"query":"x"}"#)
        try await store.recordPendingCalls(runID: "r1", [late, second])
        try await store.recordPendingCalls(runID: "r1", [Self.call])
        try await store.recordPendingCalls(runID: "r2", [PendingCall(step: 0, position: 0, name: "other", arguments: "{}")])
        #expect(try await store.pendingCalls(runID: "r1") == [Self.call, second, late])

        let replacement = PendingCall(step: 0, position: 1, name: "calculator", arguments: #"{"expression":"1"}"#)
        try await store.recordPendingCalls(runID: "r1", [replacement])
        #expect(try await store.pendingCalls(runID: "r1") == [Self.call, replacement, late])
        #expect(try await store.pendingCalls(runID: "r2") == [PendingCall(step: 0, position: 0, name: "other", arguments: "{}")])
        #expect(try await store.pendingCalls(runID: "nope") == [])
    }

    @Test("completing a step stores it and drops only that step's pending calls", arguments: StoreBackend.allCases)
    func completeStep(_ backend: StoreBackend) async throws {
        let store = try backend.open().store
        try await store.createRun(RunRecord(id: "r1", agent: "a", task: "t"))
        let next = PendingCall(step: 1, position: 0, name: "calculator", arguments: "{}")
        try await store.recordPendingCalls(runID: "r1", [Self.call, next])
        try await store.completeStep(runID: "r1", Self.step0)
        #expect(try await store.steps(runID: "r1") == [Self.step0])
        #expect(try await store.pendingCalls(runID: "r1") == [next])

        try await store.completeStep(runID: "r1", Self.step1)
        #expect(try await store.steps(runID: "r1") == [Self.step0, Self.step1])
        #expect(try await store.pendingCalls(runID: "r1") == [])
        #expect(try await store.steps(runID: "nope") == [])
    }

    @Test("completing a step twice throws and changes nothing: never both pending and complete", arguments: StoreBackend.allCases)
    func completeStepTwice(_ backend: StoreBackend) async throws {
        let store = try backend.open().store
        try await store.createRun(RunRecord(id: "r1", agent: "a", task: "t"))
        try await store.completeStep(runID: "r1", Self.step0)
        try await store.recordPendingCalls(runID: "r1", [Self.call])
        let again = StepRecord(index: 0, callsJSON: "[]", resultsJSON: "[]", promptTokens: 1, completionTokens: 1)
        await #expect(throws: (any Error).self) { try await store.completeStep(runID: "r1", again) }
        #expect(try await store.steps(runID: "r1") == [Self.step0])
        #expect(try await store.pendingCalls(runID: "r1") == [Self.call], "the failed completion removed no pending call")
    }

    @Test("steps list by index whatever order they were completed in", arguments: StoreBackend.allCases)
    func stepOrder(_ backend: StoreBackend) async throws {
        let store = try backend.open().store
        try await store.createRun(RunRecord(id: "r1", agent: "a", task: "t"))
        try await store.completeStep(runID: "r1", Self.step1)
        try await store.completeStep(runID: "r1", Self.step0)
        #expect(try await store.steps(runID: "r1") == [Self.step0, Self.step1])
    }

    @Test("concurrent writers on one store all land", arguments: StoreBackend.allCases)
    func concurrentWrites(_ backend: StoreBackend) async throws {
        let store = try backend.open().store
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<16 {
                group.addTask {
                    try await store.createRun(RunRecord(id: "r\(i)", agent: "a", task: "t\(i)"))
                    try await store.completeStep(
                        runID: "r\(i)",
                        StepRecord(
                            index: 0, callsJSON: "[]", resultsJSON: "[]",
                            promptTokens: i, completionTokens: 2 * i))
                }
            }
            try await group.waitForAll()
        }
        for i in 0..<16 {
            #expect(try await store.run(id: "r\(i)") == RunRecord(id: "r\(i)", agent: "a", task: "t\(i)"))
            #expect(try await store.steps(runID: "r\(i)").map(\.completionTokens) == [2 * i])
        }
    }

    @Test("everything written reads back from the same database opened again", arguments: StoreBackend.allCases)
    func durability(_ backend: StoreBackend) async throws {
        let opened = try backend.open()
        guard let reopen = opened.reopen else { return }  // nothing outlives an in-memory store
        try await opened.store.createRun(RunRecord(id: "r1", agent: "math", task: "2+2"))
        try await opened.store.recordPendingCalls(runID: "r1", [Self.call])
        try await opened.store.completeStep(runID: "r1", Self.step0)
        try await opened.store.recordPendingCalls(runID: "r1", [PendingCall(step: 1, position: 0, name: "calculator", arguments: "{}")])
        let id = try await opened.store.saveMemory(namespace: "math", text: "two and two make four")
        try await opened.store.finishRun(id: "r1", status: "answered", answer: "4")

        let again = try reopen()
        #expect(try await again.run(id: "r1") == RunRecord(id: "r1", agent: "math", task: "2+2", status: "answered", answer: "4"))
        #expect(try await again.steps(runID: "r1") == [Self.step0])
        #expect(try await again.pendingCalls(runID: "r1") == [PendingCall(step: 1, position: 0, name: "calculator", arguments: "{}")])
        #expect(try await again.searchMemory(namespace: "math", query: "four", limit: 5).map(\.id) == [id])
    }

    // MARK: - MemoryStore

    @Test("memory ids grow with every save", arguments: StoreBackend.allCases)
    func memoryIDs(_ backend: StoreBackend) async throws {
        let store = try backend.open().store
        var ids: [Int64] = []
        for (i, namespace) in ["a", "b", "a", "c"].enumerated() {
            ids.append(try await store.saveMemory(namespace: namespace, text: "note \(i)"))
        }
        #expect(ids == ids.sorted() && Set(ids).count == 4, "\(ids)")
    }

    @Test("search ranks by relevance within a namespace, best first, at most limit hits", arguments: StoreBackend.allCases)
    func memorySearch(_ backend: StoreBackend) async throws {
        let store = try backend.open().store
        let capital = try await store.saveMemory(namespace: "a", text: "The capital of France is Paris.")
        let museums = try await store.saveMemory(namespace: "a", text: "Paris has many museums; Paris is large.")
        _ = try await store.saveMemory(namespace: "a", text: "Bananas are yellow.")
        let texas = try await store.saveMemory(namespace: "b", text: "Paris is also a city in Texas.")

        let hits = try await store.searchMemory(namespace: "a", query: "paris museums", limit: 5)
        #expect(hits.map(\.id) == [museums, capital])
        #expect(hits.map(\.text) == ["Paris has many museums; Paris is large.", "The capital of France is Paris."])
        #expect(hits[0].score < hits[1].score, "lower scores are better: \(hits.map(\.score))")
        #expect(try await store.searchMemory(namespace: "a", query: "PARIS", limit: 1).map(\.id) == [museums])
        #expect(try await store.searchMemory(namespace: "b", query: "paris", limit: 5).map(\.id) == [texas])
        #expect(try await store.searchMemory(namespace: "a", query: "bananas-museums", limit: 5).count == 2)
        #expect(try await store.searchMemory(namespace: "c", query: "paris", limit: 5) == [])
    }

    @Test("query text is never syntax; no words or no room gives no hits", arguments: StoreBackend.allCases)
    func memoryQueryIsText(_ backend: StoreBackend) async throws {
        let store = try backend.open().store
        _ = try await store.saveMemory(namespace: "a", text: "AND OR NEAR are words too")
        #expect(try await store.searchMemory(namespace: "a", query: "\"AND OR NEAR( *", limit: 5).count == 1)
        #expect(try await store.searchMemory(namespace: "a", query: "\" ( * :", limit: 5) == [])
        #expect(try await store.searchMemory(namespace: "a", query: "", limit: 5) == [])
        #expect(try await store.searchMemory(namespace: "a", query: "words", limit: 0) == [])
    }
}
