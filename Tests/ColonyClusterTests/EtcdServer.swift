import ColonyHTTP
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A real etcd (Debian's etcd-server, installed by scripts/install-deps) on free loopback
/// ports with a data directory of its own; stopped and removed with the test.
final class EtcdServer: @unchecked Sendable {
    let clientPort: Int
    let peerPort: Int
    let dataDir: String
    /// Addresses it listens on for clients (one per network namespace that must reach it).
    let hosts: [String]
    private var process: Process?

    var host: String { hosts[0] }
    var url: String { "etcd://\(host):\(clientPort)" }

    init(hosts: [String] = ["127.0.0.1"]) throws {
        self.hosts = hosts
        clientPort = try freePort()
        peerPort = try freePort()
        dataDir = NSTemporaryDirectory() + "colony-etcd-\(UUID().uuidString)"
        try start()
    }

    /// Starts (or restarts, on the same data) and waits until it answers.
    func start() throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/etcd")
        let peer = "http://\(host):\(peerPort)"
        p.arguments = [
            "--name", "colony-test", "--data-dir", dataDir,
            "--listen-client-urls", hosts.map { "http://\($0):\(clientPort)" }.joined(separator: ","),
            "--advertise-client-urls", "http://\(host):\(clientPort)",
            "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer, "--initial-cluster", "colony-test=\(peer)",
        ]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        process = p
        let endpoint = try HTTPClient.Endpoint(url: "http://\(host):\(clientPort)", anyHost: true)
        for _ in 0..<200 {
            if let r = try? HTTPClient.send("GET", endpoint, path: "/health", timeout: 1), r.status == 200 { return }
            Thread.sleep(forTimeInterval: 0.05)
        }
        Issue.record("etcd did not start on \(host):\(clientPort)")
    }

    /// Stops it (SIGKILL: an outage, not a goodbye) and waits for the exit.
    func stop() {
        guard let p = process else { return }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        process = nil
    }

    /// POSTs a JSON body to the gateway (what an operator's etcdctl would do).
    func post(_ path: String, _ body: String) throws -> Data {
        let endpoint = try HTTPClient.Endpoint(url: "http://\(host):\(clientPort)", anyHost: true)
        return try HTTPClient.send("POST", endpoint, path: path, body: Data(body.utf8), timeout: 5).body
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(atPath: dataDir)
    }
}

/// A TCP port nothing listens on now.
func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = 0
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
    }
    guard bound else { throw POSIXError(.EADDRINUSE) }
    return Int(UInt16(bigEndian: addr.sin_port))
}
