import ColonyEngine

/// Live traffic of one model ref shared between versions by percent — the champion and
/// one or more challengers — sticky per session: a conversation keeps its version (and
/// with it its prefix cache) for as long as the split holds.
///
/// Written `REF=ID:SHARE,ID:SHARE` (`prod=v1a2b:90,v3c4d:10`); shares are whole percents
/// summing to 100, the first arm is the version the ref points at.
///
/// ```swift
/// let split = try TrafficSplit(parsing: "prod=v1a2b:90,v3c4d:10")
/// split.version(for: "session-42")   // the same arm every time for this session
/// ```
public struct TrafficSplit: Sendable, Equatable, CustomStringConvertible {
    public struct Arm: Sendable, Equatable {
        public var version: String
        public var percent: Int
    }

    /// The ref whose traffic is split (`prod`).
    public var ref: String
    public var arms: [Arm]

    /// The champion: the first arm.
    public var champion: String { arms[0].version }
    /// The other arms' versions.
    public var challengers: [String] { arms.dropFirst().map(\.version) }

    /// Parses `REF=ID:SHARE,…`; the error names what is wrong.
    public init(parsing text: String) throws(SplitError) {
        let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2, !parts[0].isEmpty else { throw .invalid(text, "write REF=ID:SHARE,ID:SHARE (e.g. prod=v1a2b:90,v3c4d:10)") }
        var arms: [Arm] = []
        for item in parts[1].split(separator: ",", omittingEmptySubsequences: false) {
            let pair = item.split(separator: ":").map(String.init)
            guard pair.count == 2, !pair[0].isEmpty, let share = Int(pair[1]), (0...100).contains(share) else {
                throw .invalid(text, "'\(item)' is not ID:SHARE with a whole percent 0–100")
            }
            guard !arms.contains(where: { $0.version == pair[0] }) else { throw .invalid(text, "version \(pair[0]) appears twice") }
            arms.append(Arm(version: pair[0], percent: share))
        }
        try self.init(ref: parts[0], arms: arms)
    }

    public init(ref: String, arms: [Arm]) throws(SplitError) {
        let text = "\(ref)=" + arms.map { "\($0.version):\($0.percent)" }.joined(separator: ",")
        guard arms.count >= 2 else { throw .invalid(text, "a split needs at least two versions") }
        let total = arms.reduce(0) { $0 + $1.percent }
        guard total == 100 else { throw .invalid(text, "the shares sum to \(total); they must sum to 100") }
        self.ref = ref
        self.arms = arms
    }

    /// The version that serves a request of `session` (its `user` or `x-session-id`), or,
    /// without one, of the request `id`: a bucket 0–99 from a stable hash, dealt to the
    /// arms in order. Changing the shares moves only the sessions whose bucket changes arm.
    public func version(for key: String) -> String {
        let bucket = Int(PrefixHash.root(salt: key).value % 100)
        var upTo = 0
        for arm in arms {
            upTo += arm.percent
            if bucket < upTo { return arm.version }
        }
        return arms[arms.count - 1].version
    }

    public var description: String { "\(ref)=" + arms.map { "\($0.version):\($0.percent)" }.joined(separator: ",") }
}

/// A split that cannot be used, with what to write instead.
public enum SplitError: Error, Equatable, CustomStringConvertible {
    case invalid(String, String)

    public var description: String {
        switch self {
        case .invalid(let text, let why): "invalid traffic split '\(text)': \(why)"
        }
    }
}
