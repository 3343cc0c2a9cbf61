import ColonyStore
import Foundation

/// A store under test: one of the backends `StoreConformanceTests` runs on.
typealias AnyStore = any RunStore & MemoryStore

/// Each backend configuration the conformance suite runs on. A new backend (PostgreSQL)
/// adds a case here and must pass the suite unchanged.
enum StoreBackend: String, CaseIterable, Sendable, CustomStringConvertible {
    /// A SQLite file in WAL mode, as `colony agents` uses it.
    case sqliteFile
    /// A private in-memory SQLite database (rollback journal, no file).
    case sqliteMemory

    var description: String { rawValue }

    /// A fresh, empty store, and a way to open the same database again (`nil` when the
    /// backend keeps nothing past its instance).
    func open() throws -> OpenedStore {
        switch self {
        case .sqliteFile:
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("colony-\(UUID().uuidString).sqlite").path
            return OpenedStore(store: try SQLiteStore(path: path), files: [path, path + "-wal", path + "-shm"]) {
                try SQLiteStore(path: path)
            }
        case .sqliteMemory:
            return OpenedStore(store: try SQLiteStore(path: ":memory:"), files: [], reopen: nil)
        }
    }
}

/// A store and what it needs to be opened again and cleaned up.
final class OpenedStore: Sendable {
    let store: AnyStore
    let reopen: (@Sendable () throws -> AnyStore)?
    private let files: [String]

    init(store: AnyStore, files: [String], reopen: (@Sendable () throws -> AnyStore)?) {
        self.store = store
        self.files = files
        self.reopen = reopen
    }

    deinit {
        for file in files { try? FileManager.default.removeItem(atPath: file) }
    }
}
