/// What can go wrong with the model registry, each saying what to do.
public enum RegistryError: Error, Equatable, CustomStringConvertible {
    /// A model reference that does not parse.
    case badReference(String, why: String)
    /// A name, ref or version that is not registered.
    case notFound(String)
    /// A ref or name that is not allowed.
    case invalidName(String, why: String)
    /// The blob of a version is missing or its bytes are not the ones registered.
    case blobMissing(version: String, digest: String, path: String)
    case blobAltered(version: String, expected: String, actual: String, path: String)
    /// A compare-and-set move lost: the ref moved meanwhile.
    case refMoved(name: String, ref: String, now: String?)
    /// Nothing to roll back to.
    case noHistory(name: String)
    /// A file to register or read cannot be read.
    case unreadable(String, why: String)

    public var description: String {
        switch self {
        case .badReference(let r, let why): "bad model reference '\(r)': \(why)"
        case .notFound(let what): "\(what) is not in the registry; see `colony models list`"
        case .invalidName(let n, let why): "invalid name '\(n)': \(why)"
        case .blobMissing(let v, let d, let p):
            "the weights of \(v) (sha256 \(d)) are missing at \(p); register the file again"
        case .blobAltered(let v, let e, let a, let p):
            "the weights of \(v) at \(p) were altered: sha256 \(a), registered as \(e); register the file again"
        case .refMoved(let n, let r, let now):
            "\(n)@\(r) moved meanwhile (now \(now ?? "unset")); check `colony models log \(n)` and try again"
        case .noHistory(let n): "\(n)@prod has no earlier version to roll back to"
        case .unreadable(let path, let why): "cannot read '\(path)': \(why)"
        }
    }
}
