import ColonyTestSupport
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Hosts for worker processes on this one machine: each worker gets a network namespace of
/// its own joined to this one by a veth pair (its link can be cut), or, where namespaces
/// cannot be made, a 127.0.0.x address of its own. Everything is removed by `remove()`.
final class TestHosts: Sendable {
    let count: Int
    /// Whether each host is a namespace (else link cuts cannot be tested).
    let namespaces: Bool
    private let tag: String
    private let subnet: Int

    init(count: Int) {
        self.count = count
        tag = String(UInt32.random(in: 0..<0xFFFF), radix: 16)
        subnet = 200 + Int.random(in: 0..<50)
        var made = IPRoute.run(["netns", "add", "cf\(tag)-probe"]) == 0
        if made {
            _ = IPRoute.run(["netns", "del", "cf\(tag)-probe"])
            for i in 1...count {
                let ns = "cf\(tag)-\(i)"
                let steps: [[String]] = [
                    ["netns", "add", ns],
                    ["link", "add", "cf\(tag)h\(i)", "type", "veth", "peer", "name", "cf\(tag)n\(i)"],
                    ["link", "set", "cf\(tag)n\(i)", "netns", ns],
                    ["addr", "add", "10.\(subnet).\(i).1/24", "dev", "cf\(tag)h\(i)"],
                    ["link", "set", "cf\(tag)h\(i)", "up"],
                    ["netns", "exec", ns, "ip", "addr", "add", "10.\(subnet).\(i).2/24", "dev", "cf\(tag)n\(i)"],
                    ["netns", "exec", ns, "ip", "link", "set", "cf\(tag)n\(i)", "up"],
                    ["netns", "exec", ns, "ip", "link", "set", "lo", "up"],
                ]
                if steps.contains(where: { IPRoute.run($0) != 0 }) {
                    made = false
                    break
                }
            }
        }
        namespaces = made
        if !made { remove() }
    }

    /// Where worker `i` (1-based) listens.
    func address(_ i: Int) -> String { namespaces ? "10.\(subnet).\(i).2" : "127.0.0.\(i + 1)" }

    /// The address on this side of worker `i`'s link: where it reaches etcd.
    func gateway(_ i: Int) -> String { namespaces ? "10.\(subnet).\(i).1" : "127.0.0.1" }

    /// Starts `executable arguments` on host `i`.
    func launch(_ i: Int, _ executable: URL, _ arguments: [String], log: String) throws -> Process {
        let p = Process()
        if namespaces {
            p.executableURL = URL(fileURLWithPath: IPRoute.path)
            p.arguments = ["netns", "exec", "cf\(tag)-\(i)", executable.path] + arguments
        } else {
            p.executableURL = executable
            p.arguments = arguments
        }
        FileManager.default.createFile(atPath: log, contents: nil)
        let handle = FileHandle(forWritingAtPath: log)
        p.standardOutput = handle
        p.standardError = handle
        try p.run()
        return p
    }

    /// Takes host `i`'s link down (or up again).
    func setLink(_ i: Int, up: Bool) {
        #expect(IPRoute.run(["link", "set", "cf\(tag)h\(i)", up ? "up" : "down"]) == 0)
    }

    func remove() {
        for i in 1...count {
            _ = IPRoute.run(["link", "del", "cf\(tag)h\(i)"])
            _ = IPRoute.run(["netns", "del", "cf\(tag)-\(i)"])
        }
    }
}
