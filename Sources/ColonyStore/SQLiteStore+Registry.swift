import Foundation
import GRDB

extension SQLiteStore: RegistryStore {
    public func register(_ version: ModelVersion) async throws -> (version: ModelVersion, created: Bool) {
        // Times are kept in milliseconds, so what is returned equals what is read back later.
        var normalized = version
        normalized.createdAt = RegistryClock.rounded(version.createdAt)
        let v = normalized
        return try await db.write { db in
            if let existing = try Self.version(db, id: v.id) { return (existing, false) }
            try db.execute(
                sql: """
                    INSERT INTO model_versions (id, digest, name, parent, config, data_digest, eval, run, created)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    v.id, v.digest, v.name, v.parent, v.config, v.dataDigest, v.eval, v.run, RegistryClock.milliseconds(v.createdAt),
                ])
            return (v, true)
        }
    }

    public func version(id: String) async throws -> ModelVersion? {
        try await db.read { try Self.version($0, id: id) }
    }

    public func versions(name: String?) async throws -> [ModelVersion] {
        try await db.read { db in
            let sql = "SELECT * FROM model_versions" + (name == nil ? "" : " WHERE name = ?") + " ORDER BY created, id"
            return try Row.fetchAll(db, sql: sql, arguments: StatementArguments(name.map { [$0] } ?? [])).map(Self.version)
        }
    }

    public func refs(name: String) async throws -> [String: String] {
        try await db.read { db in
            Dictionary(
                uniqueKeysWithValues: try Row.fetchAll(db, sql: "SELECT ref, version FROM model_refs WHERE name = ?", arguments: [name]).map
                {
                    ($0["ref"] as String, $0["version"] as String)
                })
        }
    }

    public func moveRef(_ m: RefMove, expected: String?) async throws -> Bool {
        try await db.write { db in
            let now = try String.fetchOne(db, sql: "SELECT version FROM model_refs WHERE name = ? AND ref = ?", arguments: [m.name, m.ref])
            guard now == expected else { return false }
            try db.execute(
                sql: "INSERT OR REPLACE INTO model_refs (name, ref, version) VALUES (?, ?, ?)", arguments: [m.name, m.ref, m.to])
            try db.execute(
                sql: """
                    INSERT INTO model_ref_log (name, ref, from_version, to_version, action, who, why, at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [m.name, m.ref, now, m.to, m.action, m.who, m.why, RegistryClock.milliseconds(m.at)])
            return true
        }
    }

    public func log(name: String) async throws -> [RefMove] {
        try await db.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM model_ref_log WHERE name = ? ORDER BY seq", arguments: [name]).map {
                RefMove(
                    name: $0["name"], ref: $0["ref"], from: $0["from_version"], to: $0["to_version"], action: $0["action"],
                    who: $0["who"], why: $0["why"], at: RegistryClock.date($0["at"]))
            }
        }
    }

    private static func version(_ db: Database, id: String) throws -> ModelVersion? {
        try Row.fetchOne(db, sql: "SELECT * FROM model_versions WHERE id = ?", arguments: [id]).map(version)
    }

    private static func version(_ row: Row) -> ModelVersion {
        ModelVersion(
            id: row["id"], digest: row["digest"], name: row["name"], parent: row["parent"], config: row["config"],
            dataDigest: row["data_digest"], eval: row["eval"], run: row["run"], createdAt: RegistryClock.date(row["created"]))
    }
}
