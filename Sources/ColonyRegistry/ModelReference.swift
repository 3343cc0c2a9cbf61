/// How a model version is named: `NAME@REF` (a bare `NAME` means `@prod`), or a version id
/// (`v` and 12 hex digits). On the command line it is written `ref:NAME[@REF]`.
public enum ModelReference: Sendable, Equatable {
    case ref(name: String, ref: String)
    case version(String)

    /// The prefix that marks a reference where a path could also be given (`--model ref:chat@dev`).
    public static let scheme = "ref:"

    /// Parses `NAME`, `NAME@REF` or a version id (with or without `ref:`).
    public init(_ text: String) throws(RegistryError) {
        let body = text.hasPrefix(Self.scheme) ? String(text.dropFirst(Self.scheme.count)) : text
        if Self.isVersionID(body) {
            self = .version(body)
            return
        }
        let parts = body.split(separator: "@", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        let name = parts[0]
        let ref = parts.count > 1 ? parts[1] : "prod"
        do {
            try Self.check(name: name)
            try Self.check(ref: ref)
        } catch { throw .badReference(text, why: error.description) }
        self = .ref(name: name, ref: ref)
    }

    /// Whether `text` is a version id: `v` and 12 lowercase hex digits.
    public static func isVersionID(_ text: String) -> Bool {
        text.count == 13 && text.hasPrefix("v") && text.dropFirst().allSatisfy { $0.isHexDigit && !$0.isUppercase }
    }

    /// A model name: letters, digits, `-`, `_` and `.`, starting with a letter or digit.
    public static func check(name: String) throws(RegistryError) {
        guard let first = name.first, first.isLetter || first.isNumber,
            name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) })
        else { throw .invalidName(name, why: "a model name is letters, digits, '-', '_' and '.', starting with a letter or digit") }
    }

    /// A ref: `prod`, `dev`, or `feature/<x>` with `<x>` made like a name.
    public static func check(ref: String) throws(RegistryError) {
        if ref == "prod" || ref == "dev" { return }
        if ref.hasPrefix("feature/") {
            let rest = String(ref.dropFirst("feature/".count))
            if (try? check(name: rest)) != nil { return }
        }
        throw .invalidName(ref, why: "a ref is prod, dev or feature/<name>")
    }

    public var description: String {
        switch self {
        case .ref(let name, let ref): "\(name)@\(ref)"
        case .version(let id): id
        }
    }
}
