import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Discovery through a JSON file on this host: a list of members that workers add
/// themselves to and routers read. Writers take an exclusive `flock` on `PATH.lock` and
/// replace the file by rename, so readers never see half a list.
public struct FileDiscovery: Discovery {
    public let path: String

    public init(path: String) { self.path = path }

    public func members() throws(DiscoveryError) -> [ClusterMember] {
        let list = try read()
        var seen: [String: String] = [:]
        for m in list {
            if let other = seen[m.id] { throw .duplicateID(m.id, addresses: [other, m.address]) }
            seen[m.id] = m.address
        }
        return list
    }

    public func register(_ member: ClusterMember) throws(DiscoveryError) {
        guard !member.id.isEmpty else { throw .invalidMember("the id is empty") }
        guard member.hostAndPort != nil else { throw .invalidMember("'\(member.address)' is not host:port") }
        try locked { () throws(DiscoveryError) in
            var list = try read()
            if let i = list.firstIndex(where: { $0.id == member.id }) {
                let other = list[i]
                if other.address != member.address, let pid = other.pid, pid != member.pid, Self.isAlive(pid) {
                    throw .duplicateID(member.id, addresses: [other.address, member.address])
                }
                list[i] = member
            } else {
                list.append(member)
            }
            try write(list)
        }
    }

    public func deregister(id: String) throws(DiscoveryError) {
        try locked { () throws(DiscoveryError) in
            let list = try read()
            let kept = list.filter { $0.id != id }
            if kept.count != list.count { try write(kept) }
        }
    }

    private func read() throws(DiscoveryError) -> [ClusterMember] {
        guard FileManager.default.fileExists(atPath: path) else { return [] }
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            if data.allSatisfy({ $0 == 0x20 || $0 == 0x0a }) { return [] }
            return try JSONDecoder().decode([ClusterMember].self, from: data)
        } catch let error as DecodingError {
            throw .unreadable(path: path, reason: "not a JSON list of {id, role, address, pid} (\(error))")
        } catch {
            throw .unreadable(path: path, reason: error.localizedDescription)
        }
    }

    private func write(_ list: [ClusterMember]) throws(DiscoveryError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        do {
            let temporary = path + ".tmp-\(getpid())"
            try encoder.encode(list).write(to: URL(fileURLWithPath: temporary))
            guard rename(temporary, path) == 0 else {
                throw DiscoveryError.unreadable(path: path, reason: String(cString: strerror(errno)))
            }
        } catch let error as DiscoveryError {
            throw error
        } catch {
            throw .unreadable(path: path, reason: error.localizedDescription)
        }
    }

    private func locked<T>(_ body: () throws(DiscoveryError) -> T) throws(DiscoveryError) -> T {
        let fd = open(path + ".lock", O_CREAT | O_RDWR, 0o644)
        guard fd >= 0 else { throw .unreadable(path: path + ".lock", reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        guard flock(fd, LOCK_EX) == 0 else { throw .unreadable(path: path + ".lock", reason: String(cString: strerror(errno))) }
        defer { flock(fd, LOCK_UN) }
        return try body()
    }

    /// Whether a process with `pid` exists on this host.
    static func isAlive(_ pid: Int) -> Bool { kill(pid_t(pid), 0) == 0 || errno == EPERM }
}
