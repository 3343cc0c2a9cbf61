import Foundation

/// One immutable model version: weights (by digest) and where they came from.
public struct ModelVersion: Sendable, Equatable, Codable {
    /// `v` and the first 12 hex digits of `digest`.
    public var id: String
    /// SHA-256 of the GGUF (or adapter) file, hex.
    public var digest: String
    public var name: String
    /// The version this one was trained from.
    public var parent: String?
    /// The training configuration, as given (YAML or JSON text).
    public var config: String?
    /// SHA-256 of the training data, hex.
    public var dataDigest: String?
    /// The evaluation report, as given (JSON text).
    public var eval: String?
    /// The run that produced it.
    public var run: String?
    public var createdAt: Date

    enum CodingKeys: String, CodingKey {
        case id, digest, name, parent, config, eval, run
        case dataDigest = "data_digest"
        case createdAt = "created_at"
    }

    public init(
        id: String, digest: String, name: String, parent: String? = nil, config: String? = nil, dataDigest: String? = nil,
        eval: String? = nil, run: String? = nil, createdAt: Date = Date()
    ) {
        self.id = id
        self.digest = digest
        self.name = name
        self.parent = parent
        self.config = config
        self.dataDigest = dataDigest
        self.eval = eval
        self.run = run
        self.createdAt = createdAt
    }
}

/// One move of a ref, as the log keeps it.
public struct RefMove: Sendable, Equatable, Codable {
    public var name: String
    public var ref: String
    /// Where the ref pointed before (nil: it did not exist).
    public var from: String?
    public var to: String
    /// `register`, `tag`, `promote` or `rollback`.
    public var action: String
    public var who: String
    public var why: String?
    public var at: Date

    public init(name: String, ref: String, from: String?, to: String, action: String, who: String, why: String?, at: Date = Date()) {
        self.name = name
        self.ref = ref
        self.from = from
        self.to = to
        self.action = action
        self.who = who
        self.why = why
        self.at = at
    }
}

/// Registry times are kept as milliseconds since 1970 by every backend, so a version reads
/// back equal to the one returned when it was stored.
public enum RegistryClock {
    public static func milliseconds(_ d: Date) -> Int64 { Int64((d.timeIntervalSince1970 * 1000).rounded()) }
    public static func date(_ ms: Int64) -> Date { Date(timeIntervalSince1970: Double(ms) / 1000) }
    /// `d` as it reads back.
    public static func rounded(_ d: Date) -> Date { date(milliseconds(d)) }
}

/// Where model versions and their refs live. Backends: SQLite (`SQLiteStore`), PostgreSQL (`PostgresStore`).
///
/// Contract for conformers (`RegistryStoreTests` checks it on every backend):
/// - `register` stores a version once per id: registering an id that exists returns the
///   stored version unchanged, with `created` false.
/// - `moveRef` is compare-and-set: it moves `name@ref` to `to` only if the ref points at
///   `expected` now (nil: the ref does not exist), and logs the move in the same
///   transaction. It returns false, changing nothing, when the ref has moved meanwhile, so
///   of two concurrent moves from one state exactly one wins and the log stays a chain.
/// - `log` lists a name's moves oldest first; `versions` lists versions oldest first.
public protocol RegistryStore: Sendable {
    /// Stores `version` unless its id exists; returns the stored version and whether it is new.
    func register(_ version: ModelVersion) async throws -> (version: ModelVersion, created: Bool)
    /// The version with this id, or nil.
    func version(id: String) async throws -> ModelVersion?
    /// The versions of `name` (all when nil), oldest first.
    func versions(name: String?) async throws -> [ModelVersion]
    /// The refs of `name`: ref → version id.
    func refs(name: String) async throws -> [String: String]
    /// Moves `name@ref` to `to` if it points at `expected` now; logs the move. False when it moved meanwhile.
    func moveRef(_ move: RefMove, expected: String?) async throws -> Bool
    /// The moves of `name`'s refs, oldest first.
    func log(name: String) async throws -> [RefMove]
}
