import Foundation

/// iproute2's `ip`, for tests that give processes hosts of their own: network namespaces,
/// veth pairs and bridges on this machine.
public enum IPRoute {
    /// Where `ip` is installed (scripts/install-deps installs iproute2).
    public static let path =
        ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].first { FileManager.default.fileExists(atPath: $0) } ?? "ip"

    /// Runs `ip arguments` quietly; returns its exit status (−1 when it cannot start).
    @discardableResult
    public static func run(_ arguments: [String]) -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = arguments
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return -1 }
        p.waitUntilExit()
        return p.terminationStatus
    }
}
