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
            "unknown discovery URL '\(url)': use file:PATH (a JSON list of members on this host); etcd comes with cluster part 2"
        case .unreadable(let path, let reason): "cannot use the discovery file \(path): \(reason)"
        case .duplicateID(let id, let addresses):
            "two members claim the id '\(id)' (\(addresses.joined(separator: " and "))): give each worker its own --id"
        case .invalidMember(let why): "invalid cluster member: \(why)"
        }
    }
}

/// Opens the discovery backend a `--discovery` URL names.
public func openDiscovery(_ url: String) throws(DiscoveryError) -> any Discovery {
    if url.hasPrefix("file:") {
        let path = String(url.dropFirst("file:".count))
        guard !path.isEmpty else { throw .unknownScheme(url) }
        return FileDiscovery(path: path)
    }
    throw .unknownScheme(url)
}
