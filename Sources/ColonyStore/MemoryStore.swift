/// A long-term memory found by full-text search, best first.
public struct MemoryHit: Sendable, Equatable {
    public var id: Int64
    public var text: String
    /// BM25 score (lower is better, as SQLite reports it).
    public var score: Double

    public init(id: Int64, text: String, score: Double) {
        self.id = id
        self.text = text
        self.score = score
    }
}

/// Where agents' long-term memories live, searchable by text within a namespace (one per
/// agent). Backends: SQLite with FTS5 (`SQLiteStore`); PostgreSQL full-text search (`PostgresStore`).
///
/// Contract for conformers (`StoreConformanceTests` checks every point on every backend):
/// - `saveMemory` is durable when it returns and returns an id larger than every id it
///   returned before.
/// - `searchMemory` matches the words of `query` (letters and digits; any other character
///   separates words, none is query syntax), case-insensitively, any word sufficing; it
///   returns at most `limit` hits of `namespace` only, best (most relevant, BM25) first,
///   and `[]` for a query without words or a `limit` below 1. It never throws for the text
///   of a query.
public protocol MemoryStore: Sendable {
    /// Stores `text` under `namespace`; returns its id.
    func saveMemory(namespace: String, text: String) async throws -> Int64
    /// The best `limit` memories of `namespace` for the words of `query`, best first.
    func searchMemory(namespace: String, query: String, limit: Int) async throws -> [MemoryHit]
}
