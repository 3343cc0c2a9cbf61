import ColonyStore
import ColonyStorePostgres
import Foundation

/// Every store a command may need: runs, memories and the model registry.
typealias AnyStore = any RunStore & MemoryStore & RegistryStore

/// Where shared state lives: a SQLite file (embedded, the default) or a PostgreSQL that
/// every node reaches (`postgres://user[:password]@host[:port]/database`).
enum StoreLocation {
    static let defaultPath = ".colony/colony.sqlite"

    /// `given`, else `$COLONY_STORE`, else the default SQLite file.
    static func resolve(_ given: String?) -> String {
        given ?? ProcessInfo.processInfo.environment["COLONY_STORE"] ?? defaultPath
    }

    static func isPostgres(_ location: String) -> Bool { location.hasPrefix("postgres://") || location.hasPrefix("postgresql://") }

    static func open(_ location: String) throws -> AnyStore {
        isPostgres(location) ? try PostgresStore(url: location) : try SQLiteStore(path: location)
    }
}
