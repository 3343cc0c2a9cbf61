import ColonyStore

/// Saves a fact to the agent's long-term memory.
public struct MemorySaveTool: Tool {
    public let store: any MemoryStore
    public let namespace: String
    public let name = "memory.save"
    public let description = "Remember a fact for later."
    public let parametersJSON = #"{"type":"object","properties":{"text":{"type":"string"}}}"#
    /// Saving twice stores the fact twice: a retry after a crash is reported, not repeated.
    public let isIdempotent = false

    public init(store: any MemoryStore, namespace: String) {
        self.store = store
        self.namespace = namespace
    }

    public func call(arguments: String) async throws -> String {
        struct Arguments: Decodable { let text: String }
        let text = try decodeArguments(Arguments.self, arguments, tool: name).text
        guard !text.isEmpty else { throw ToolError.emptyMemory }
        let id = try await store.saveMemory(namespace: namespace, text: text)
        return "saved as memory \(id)"
    }
}

/// Finds facts in the agent's long-term memory (full-text, BM25-ranked).
public struct MemorySearchTool: Tool {
    public let store: any MemoryStore
    public let namespace: String
    public let limit: Int
    public let name = "memory.search"
    public let description = "Search remembered facts."
    public let parametersJSON = #"{"type":"object","properties":{"query":{"type":"string"}}}"#
    public let isIdempotent = true

    public init(store: any MemoryStore, namespace: String, limit: Int = 5) {
        self.store = store
        self.namespace = namespace
        self.limit = limit
    }

    public func call(arguments: String) async throws -> String {
        struct Arguments: Decodable { let query: String }
        let hits = try await store.searchMemory(
            namespace: namespace, query: try decodeArguments(Arguments.self, arguments, tool: name).query, limit: limit)
        return hits.isEmpty ? "no memories match" : hits.map(\.text).joined(separator: "\n")
    }
}
