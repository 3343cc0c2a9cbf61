import ColonyStore
import Foundation
import PostgresNIO

extension PostgresStore {
    public func register(_ version: ModelVersion) async throws -> (version: ModelVersion, created: Bool) {
        var v = version
        v.createdAt = RegistryClock.rounded(version.createdAt)
        let stored = v
        let rows = try await query(
            """
            INSERT INTO model_versions (id, digest, name, parent, config, data_digest, eval, run, created)
            VALUES (\(stored.id), \(stored.digest), \(stored.name), \(stored.parent), \(stored.config), \(stored.dataDigest),
                    \(stored.eval), \(stored.run), \(RegistryClock.milliseconds(stored.createdAt)))
            ON CONFLICT (id) DO NOTHING RETURNING id
            """)
        for try await _ in rows.decode(String.self) { return (stored, true) }
        guard let existing = try await self.version(id: v.id) else { throw PostgresStoreError.noRow("model version \(v.id)") }
        return (existing, false)
    }

    public func version(id: String) async throws -> ModelVersion? {
        try await versions(where: "WHERE id = $1", [id]).first
    }

    public func versions(name: String?) async throws -> [ModelVersion] {
        guard let name else { return try await versions(where: "", []) }
        return try await versions(where: "WHERE name = $1", [name])
    }

    private func versions(where clause: String, _ values: [String]) async throws -> [ModelVersion] {
        var bindings = PostgresBindings()
        for v in values { bindings.append(v) }
        let rows = try await query(
            PostgresQuery(
                unsafeSQL:
                    "SELECT id, digest, name, parent, config, data_digest, eval, run, created FROM model_versions \(clause) ORDER BY created, id",
                binds: bindings))
        var out: [ModelVersion] = []
        for try await (id, digest, name, parent, config, data, eval, run, created) in rows.decode(
            (String, String, String, String?, String?, String?, String?, String?, Int64).self)
        {
            out.append(
                ModelVersion(
                    id: id, digest: digest, name: name, parent: parent, config: config, dataDigest: data, eval: eval, run: run,
                    createdAt: RegistryClock.date(created)))
        }
        return out
    }

    public func refs(name: String) async throws -> [String: String] {
        var out: [String: String] = [:]
        for try await (ref, version) in try await query("SELECT ref, version FROM model_refs WHERE name = \(name)").decode(
            (String, String).self)
        {
            out[ref] = version
        }
        return out
    }

    public func moveRef(_ m: RefMove, expected: String?) async throws -> Bool {
        let key = "\(m.name)@\(m.ref)"
        return try await transaction { c in
            // Moves of one ref queue here, so the read and the write below are one step.
            try await c.query("SELECT pg_advisory_xact_lock(hashtext(\(key)))", logger: Self.quiet)
            var now: String?
            for try await v in try await c.query(
                "SELECT version FROM model_refs WHERE name = \(m.name) AND ref = \(m.ref)", logger: Self.quiet
            )
            .decode(String.self) {
                now = v
            }
            guard now == expected else { return false }
            try await c.query(
                """
                INSERT INTO model_refs (name, ref, version) VALUES (\(m.name), \(m.ref), \(m.to))
                ON CONFLICT (name, ref) DO UPDATE SET version = EXCLUDED.version
                """, logger: Self.quiet)
            try await c.query(
                """
                INSERT INTO model_ref_log (name, ref, from_version, to_version, action, who, why, at)
                VALUES (\(m.name), \(m.ref), \(now), \(m.to), \(m.action), \(m.who), \(m.why), \(RegistryClock.milliseconds(m.at)))
                """, logger: Self.quiet)
            return true
        }
    }

    public func log(name: String) async throws -> [RefMove] {
        let rows = try await query(
            "SELECT name, ref, from_version, to_version, action, who, why, at FROM model_ref_log WHERE name = \(name) ORDER BY seq")
        var out: [RefMove] = []
        for try await (name, ref, from, to, action, who, why, at) in rows.decode(
            (String, String, String?, String, String, String, String?, Int64).self)
        {
            out.append(RefMove(name: name, ref: ref, from: from, to: to, action: action, who: who, why: why, at: RegistryClock.date(at)))
        }
        return out
    }
}
