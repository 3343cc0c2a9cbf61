import ColonyStore
import Foundation

/// Model versions with git-style refs: immutable versions (weights by digest, with their
/// parent, training configuration, data digest, evaluation report and run), refs per name
/// (`prod`, `dev`, `feature/<x>`) moved by compare-and-set, and every move logged.
///
/// ```swift
/// let registry = Registry(store: try SQLiteStore(path: ".colony/colony.sqlite"), root: ".colony/registry")
/// let (v, _) = try await registry.register(name: "chat", file: "model.gguf", why: "first")
/// try await registry.promote(name: "chat", id: v.id, why: "evaluated")
/// let path = try await registry.weights(of: try await registry.resolve(ModelReference("ref:chat")))
/// ```
public struct Registry: Sendable {
    public let store: any RegistryStore
    public let blobs: BlobStore
    /// Who moves refs, for the log: `user@host`.
    public let who: String

    public init(store: any RegistryStore, root: String, who: String = Registry.defaultWho) {
        self.store = store
        blobs = BlobStore(root: root)
        self.who = who
    }

    public static var defaultWho: String {
        (ProcessInfo.processInfo.environment["USER"] ?? "unknown") + "@" + ProcessInfo.processInfo.hostName
    }

    /// Registers `file` as a version of `name` and points `ref` at it. The same bytes
    /// registered again give the version already there.
    public func register(
        name: String, file: String, ref: String = "dev", parent: String? = nil, config: String? = nil, eval: String? = nil,
        dataDigest: String? = nil, run: String? = nil, why: String? = nil
    ) async throws -> (version: ModelVersion, created: Bool) {
        try ModelReference.check(name: name)
        try ModelReference.check(ref: ref)
        if let parent, try await store.version(id: parent) == nil { throw RegistryError.notFound("parent version \(parent)") }
        let digest = try blobs.add(file)
        let candidate = ModelVersion(
            id: "v" + digest.prefix(12), digest: digest, name: name, parent: parent, config: config, dataDigest: dataDigest, eval: eval,
            run: run)
        let (version, created) = try await store.register(candidate)
        if version.name == name { try await point(name, ref, at: version.id, action: "register", why: why, contested: false) }
        return (version, created)
    }

    /// The version `reference` names now.
    public func resolve(_ reference: ModelReference) async throws -> ModelVersion {
        switch reference {
        case .version(let id):
            guard let v = try await store.version(id: id) else { throw RegistryError.notFound("version \(id)") }
            return v
        case .ref(let name, let ref):
            guard let id = try await store.refs(name: name)[ref] else { throw RegistryError.notFound("\(name)@\(ref)") }
            guard let v = try await store.version(id: id) else { throw RegistryError.notFound("version \(id)") }
            return v
        }
    }

    /// The path of `version`'s weights, after checking their digest.
    public func weights(of version: ModelVersion) throws -> String {
        try blobs.verified(version.digest, version: version.id)
    }

    /// Points `name@ref` at version `id` (a version of that name).
    public func tag(name: String, ref: String, id: String, why: String? = nil) async throws {
        try ModelReference.check(ref: ref)
        try await requireVersion(id, of: name)
        try await point(name, ref, at: id, action: "tag", why: why, contested: true)
    }

    /// Moves `name@prod` to version `id`. Of two promotions at once, one wins; the other
    /// throws `refMoved` and changes nothing.
    public func promote(name: String, id: String, why: String? = nil) async throws {
        try await requireVersion(id, of: name)
        try await point(name, "prod", at: id, action: "promote", why: why, contested: true)
    }

    /// Moves `name@prod` back to the version it held before its current one was promoted
    /// (rollbacks undo promotions in turn, as a stack). Returns that version's id.
    @discardableResult
    public func rollback(name: String, why: String? = nil) async throws -> String {
        var stack: [String] = []
        for move in try await store.log(name: name) where move.ref == "prod" {
            if move.action == "rollback" { stack.removeLast() } else { stack.append(move.to) }
        }
        guard stack.count >= 2 else { throw RegistryError.noHistory(name: name) }
        let target = stack[stack.count - 2]
        try await point(name, "prod", at: target, action: "rollback", why: why, contested: true)
        return target
    }

    /// Versions of `name` (all when nil), oldest first, with the refs pointing at each.
    public func list(name: String? = nil) async throws -> [(version: ModelVersion, refs: [String])] {
        var refsByName: [String: [String: String]] = [:]
        var out: [(ModelVersion, [String])] = []
        for v in try await store.versions(name: name) {
            if refsByName[v.name] == nil { refsByName[v.name] = try await store.refs(name: v.name) }
            out.append((v, refsByName[v.name]!.filter { $0.value == v.id && $0.key != Self.splitRef }.map(\.key).sorted()))
        }
        return out
    }

    private func requireVersion(_ id: String, of name: String) async throws {
        guard let v = try await store.version(id: id) else { throw RegistryError.notFound("version \(id)") }
        guard v.name == name else { throw RegistryError.notFound("version \(id) of '\(name)' (it is a version of '\(v.name)')") }
    }

    /// Moves a ref by compare-and-set from what it points at now. `contested`: a lost race
    /// is an error (promote, tag); otherwise (register) the move is tried again.
    private func point(_ name: String, _ ref: String, at id: String, action: String, why: String?, contested: Bool) async throws {
        for _ in 0..<8 {
            let now = try await store.refs(name: name)[ref]
            if now == id, action == "register" { return }
            let move = RefMove(name: name, ref: ref, from: now, to: id, action: action, who: who, why: why)
            if try await store.moveRef(move, expected: now) { return }
            if contested { throw RegistryError.refMoved(name: name, ref: ref, now: try await store.refs(name: name)[ref]) }
        }
        throw RegistryError.refMoved(name: name, ref: ref, now: try await store.refs(name: name)[ref])
    }
}
