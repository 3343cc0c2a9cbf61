import ColonyTestSupport
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Hosts for an MPI job on this one machine: network namespaces on a bridge of their own,
/// named in a hostfile, with an OpenMPI launch agent that starts each host's daemon
/// inside its namespace. MPI traffic is bound to the bridge's subnet, so every byte
/// between ranks crosses a veth link. Everything, processes included, is removed by
/// `remove()`.
final class MPIHosts: Sendable {
    let count: Int
    let folder: URL
    private let tag: String
    private let subnet: String

    static let mpirun = BoundedProcess.mpirun

    /// Whether namespaces can be made here (root, `ip netns`).
    static let possible: Bool = {
        let probe = "mh\(String(UInt32.random(in: 0..<0xFFFF), radix: 16))-probe"
        guard IPRoute.run(["netns", "add", probe]) == 0 else { return false }
        return IPRoute.run(["netns", "del", probe]) == 0
    }()

    /// Makes `count` hosts; nil (after cleaning up) when any step fails.
    init?(count: Int) throws {
        self.count = count
        tag = "mh" + String(UInt32.random(in: 0..<0xFFFF), radix: 16)
        subnet = "10.\(180 + Int.random(in: 0..<20)).\(Int.random(in: 1..<250))"
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("colony-\(tag)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var steps: [[String]] = [
            ["link", "add", "\(tag)br", "type", "bridge"], ["addr", "add", "\(subnet).254/24", "dev", "\(tag)br"],
            ["link", "set", "\(tag)br", "up"],
        ]
        for i in 1...count {
            let (ns, host, inner) = ("\(tag)-\(i)", "\(tag)h\(i)", "\(tag)n\(i)")
            steps += [
                ["netns", "add", ns], ["link", "add", host, "type", "veth", "peer", "name", inner], ["link", "set", inner, "netns", ns],
                ["link", "set", host, "master", "\(tag)br"], ["link", "set", host, "up"],
                ["netns", "exec", ns, "ip", "addr", "add", "\(subnet).\(i)/24", "dev", inner],
                ["netns", "exec", ns, "ip", "link", "set", inner, "up"], ["netns", "exec", ns, "ip", "link", "set", "lo", "up"],
            ]
        }
        guard steps.allSatisfy({ IPRoute.run($0) == 0 }) else {
            remove()
            return nil
        }
        // OpenMPI's rsh launcher runs `AGENT HOST COMMAND…`, the command as one shell line.
        let agent = """
            #!/bin/sh
            host="$1"; shift
            exec \(IPRoute.path) netns exec "\(tag)-${host#host}" /bin/sh -c "$*"

            """
        try agent.write(to: agentPath, atomically: true, encoding: .utf8)
        chmod(agentPath.path, 0o755)
        try (1...count).map { "host\($0) slots=1" }.joined(separator: "\n").write(to: hostfile, atomically: true, encoding: .utf8)
    }

    var agentPath: URL { folder.appendingPathComponent("netns-agent") }
    var hostfile: URL { folder.appendingPathComponent("hostfile") }

    /// mpirun's options: one rank per host from the hostfile, launched by the agent,
    /// control and data over TCP on the bridge only.
    ///
    /// `rtc_hwloc_vmhole none`: each remote daemon would otherwise map the machine's
    /// topology into the biggest hole of its address space, and OpenMPI 4.1's guess of that
    /// hole can land by the stack: the daemon then dies of SIGSEGV in
    /// `hwloc_shmem_topology_write` before any rank starts (seen once in CI). The shared
    /// topology only saves the ranks a discovery.
    var options: [String] {
        [
            "--allow-run-as-root", "--hostfile", hostfile.path, "--mca", "plm_rsh_agent", agentPath.path,
            "--mca", "oob_tcp_if_include", "\(subnet).0/24", "--mca", "btl", "tcp,self",
            "--mca", "btl_tcp_if_include", "\(subnet).0/24", "--mca", "rtc_hwloc_vmhole", "none",
        ]
    }

    /// Bytes host `i` has sent over its link so far.
    func sentBytes(_ i: Int) -> Int {
        // The bridge side receives what the host sends.
        let path = "/sys/class/net/\(tag)h\(i)/statistics/rx_bytes"
        return (try? String(contentsOfFile: path, encoding: .utf8)).flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? 0
    }

    /// Runs mpirun with `options` and `arguments`; after `deadline` seconds it and every
    /// process in the namespaces are killed and an issue is recorded.
    func mpirun(_ arguments: [String], deadline: TimeInterval) throws -> CLI.Result {
        let run = try BoundedProcess.run(
            Self.mpirun!, options + ["-np", "\(count)"] + arguments, deadline: deadline, onTimeout: killProcesses)
        if run.timedOut { Issue.record("mpirun \(arguments.joined(separator: " ")) did not finish within \(Int(deadline)) s; killed") }
        return CLI.Result(status: run.status, stdout: run.stdout, stderr: run.stderr)
    }

    /// SIGKILLs whatever still runs in the namespaces.
    private func killProcesses() {
        for i in 1...count {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: IPRoute.path)
            p.arguments = ["netns", "pids", "\(tag)-\(i)"]
            let out = Pipe()
            p.standardOutput = out
            guard (try? p.run()) != nil else { continue }
            let pids = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            for pid in pids.split(separator: "\n").compactMap({ Int32($0) }) { kill(pid, SIGKILL) }
        }
    }

    func remove() {
        killProcesses()
        for i in 1...count {
            _ = IPRoute.run(["link", "del", "\(tag)h\(i)"])
            _ = IPRoute.run(["netns", "del", "\(tag)-\(i)"])
        }
        _ = IPRoute.run(["link", "del", "\(tag)br"])
        try? FileManager.default.removeItem(at: folder)
    }
}
