/// Where cluster members find each other. The embedded default is a file on this host
/// (`file:PATH`); etcd comes behind the same protocol for clusters of many hosts.
public protocol Discovery: Sendable {
    /// The members listed now.
    func members() throws(DiscoveryError) -> [ClusterMember]
    /// Adds `member`, or updates the entry with its id.
    /// - Throws: `DiscoveryError.duplicateID` when another live process holds the id.
    func register(_ member: ClusterMember) throws(DiscoveryError)
    /// Removes the member with `id`; an unknown id does nothing.
    func deregister(id: String) throws(DiscoveryError)
    /// `handler` runs (once, on any thread) when discovery says this process's registration
    /// is gone for good (an etcd lease that expired): the member must stop serving.
    func onLoss(_ handler: @escaping @Sendable (String) -> Void)
}

extension Discovery {
    /// A file entry is never lost behind its writer's back: nothing to watch.
    public func onLoss(_ handler: @escaping @Sendable (String) -> Void) {}
}

/// Why discovery failed.
public enum DiscoveryError: Error, Equatable, CustomStringConvertible {
    case unknownScheme(String)
    case unreadable(path: String, reason: String)
    case duplicateID(String, addresses: [String])
    case invalidMember(String)

    public var description: String {
        switch self {
        case .unknownScheme(let url):
            "unknown discovery URL '\(url)': use file:PATH (a JSON list of members on this host) or etcd://HOST:PORT[,HOST:PORT…][/PREFIX]"
        case .unreadable(let path, let reason): "cannot use the discovery file \(path): \(reason)"
        case .duplicateID(let id, let addresses):
            "two members claim the id '\(id)' (\(addresses.joined(separator: " and "))): give each worker its own --id"
        case .invalidMember(let why): "invalid cluster member: \(why)"
        }
    }
}
