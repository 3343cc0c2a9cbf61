import ColonyStore

/// A/B traffic splits, kept in the ref log beside promotions so that one history shows
/// every change of who serves: a split is a move of the `split` ref (compare-and-set like
/// any other) whose action carries the split (`split prod=v1:90,v2:10`), and clearing it
/// (by a person or by the promotion gate, with its evidence in `why`) is another move.
extension Registry {
    /// The ref under which splits are logged; never a ref clients ask for.
    public static let splitRef = "split"
    private static let splitAction = "split "

    /// `name`'s split now (`REF=ID:SHARE,…`, as `TrafficSplit` reads it), or nil.
    public func split(name: String) async throws -> String? {
        guard let last = try await store.log(name: name).last(where: { $0.ref == Self.splitRef }) else { return nil }
        return last.action.hasPrefix(Self.splitAction) ? String(last.action.dropFirst(Self.splitAction.count)) : nil
    }

    /// Splits `name@ref`'s traffic as `text` says. `versions` are its arms, the first the
    /// version `ref` points at now; each must be a version of `name`.
    public func setSplit(name: String, ref: String, text: String, versions: [String], why: String? = nil) async throws {
        try ModelReference.check(ref: ref)
        guard let current = try await store.refs(name: name)[ref] else { throw RegistryError.notFound("\(name)@\(ref)") }
        guard versions.first == current else {
            throw RegistryError.invalidName(
                text, why: "the first version of a split is the one \(name)@\(ref) serves now (\(current)); list it first")
        }
        for id in versions {
            guard let v = try await store.version(id: id) else { throw RegistryError.notFound("version \(id)") }
            guard v.name == name else { throw RegistryError.notFound("version \(id) of '\(name)' (it is a version of '\(v.name)')") }
        }
        try await moveSplit(name, to: versions[1], action: Self.splitAction + text, why: why)
    }

    /// Ends `name`'s split (its ref's version then gets all the traffic); `action` says who
    /// ended it (`split-clear` by hand, `gate-rollback`/`gate-promote` by the gate).
    public func clearSplit(name: String, action: String = "split-clear", why: String? = nil) async throws {
        guard let text = try await split(name: name) else { throw RegistryError.notFound("a traffic split of '\(name)'") }
        let champion = text.split(separator: "=").last?.split(separator: ":").first.map(String.init) ?? ""
        try await moveSplit(name, to: champion, action: action, why: why)
    }

    private func moveSplit(_ name: String, to id: String, action: String, why: String?) async throws {
        let now = try await store.refs(name: name)[Self.splitRef]
        let move = RefMove(name: name, ref: Self.splitRef, from: now, to: id, action: action, who: who, why: why)
        guard try await store.moveRef(move, expected: now) else {
            throw RegistryError.refMoved(name: name, ref: Self.splitRef, now: try await store.refs(name: name)[Self.splitRef])
        }
    }
}
