import ColonyStore
import ColonyStorePostgres
import Foundation
import Synchronization

/// A store under test: one of the backends `StoreConformanceTests` runs on.
typealias AnyStore = any RunStore & MemoryStore & RegistryStore

/// Each backend configuration the conformance suite runs on. A new backend (PostgreSQL)
/// adds a case here and must pass the suite unchanged.
enum StoreBackend: String, CaseIterable, Sendable, CustomStringConvertible {
    /// A SQLite file in WAL mode, as `colony agents` uses it.
    case sqliteFile
    /// A private in-memory SQLite database (rollback journal, no file).
    case sqliteMemory
    /// A fresh schema in the project's own PostgreSQL (`scripts/postgres`).
    case postgres

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
        case .postgres:
            let url = try TestPostgres.url()
            let schema = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
            return OpenedStore(store: try PostgresStore(url: url, schema: schema), files: []) {
                try PostgresStore(url: url, schema: schema)
            }
        }
    }
}

/// The project's own PostgreSQL for tests: `$COLONY_TEST_POSTGRES`, else the one
/// `scripts/postgres start` starts (or finds running) and names.
enum TestPostgres {
    private static let found = Mutex<String?>(nil)

    static func url() throws -> String {
        if let url = ProcessInfo.processInfo.environment["COLONY_TEST_POSTGRES"] { return url }
        return try found.withLock { cached in
            if let cached { return cached }
            let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../scripts/postgres")
                .standardized
            let p = Process()
            p.executableURL = script
            p.arguments = ["start"]
            let out = Pipe()
            p.standardOutput = out
            try p.run()
            let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            guard p.terminationStatus == 0 else {
                throw PostgresStoreError.badURL("scripts/postgres start failed (status \(p.terminationStatus))")
            }
            cached = text.trimmingCharacters(in: .whitespacesAndNewlines)
            return cached!
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
