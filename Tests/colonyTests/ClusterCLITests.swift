import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite("colony cluster, worker and router on the command line", .serialized)
struct ClusterCLITests {
    @Test("cluster up starts a router, two workers and a spare; status --json lists them ready; SIGTERM stops them all")
    func upStatusDown() async throws {
        let port = 22_000 + Int.random(in: 0..<2000)
        let up = Process()
        up.executableURL = CLI.binary
        up.arguments = [
            "cluster", "up", "--model", CLI.tinyModel, "--workers", "2", "--spares", "1", "--port", String(port), "--threads", "1",
            "--kv-blocks", "64",
        ]
        up.standardError = FileHandle.nullDevice
        try up.run()
        defer { if up.isRunning { kill(up.processIdentifier, SIGKILL) } }
        try #require(await blocking { CLI.waitForPort(port) }, "the router did not start listening")

        var members: [[String: Any]] = []
        for _ in 0..<150 {
            let r = try await blocking { try CLI.run(["cluster", "status", "--url", "http://127.0.0.1:\(port)", "--json"]) }
            if r.status == 0, let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any] {
                members = object["members"] as? [[String: Any]] ?? []
                if members.count == 4, members.allSatisfy({ $0["state"] as? String == "ready" }) { break }
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(members.map { $0["id"] as? String } == ["router", "spare-1", "worker-1", "worker-2"])
        #expect(members.map { $0["role"] as? String } == ["router", "spare", "active", "active"])
        #expect(members.allSatisfy { $0["state"] as? String == "ready" })
        let keys: Set<String> = [
            "id", "role", "state", "pid", "address", "running", "waiting", "kv_blocks_used", "kv_blocks_total", "model", "model_digest",
        ]
        #expect(members.allSatisfy { keys.isSubset(of: Set($0.keys)) })
        #expect(members.dropFirst().allSatisfy { $0["kv_blocks_total"] as? Int == 64 && $0["model"] as? String == "tiny-llama-tied" })
        let digests = Set(members.compactMap { $0["model_digest"] as? String })
        #expect(digests.count == 1 && digests.first!.hasPrefix("c64:"))
        let pids = members.compactMap { $0["pid"] as? Int }
        #expect(pids.count == 4)

        let table = try await blocking { try CLI.run(["cluster", "status", "--url", "http://127.0.0.1:\(port)"]) }
        #expect(table.stdout.contains("worker-2  active  ready"))

        up.terminate()
        for _ in 0..<300 where up.isRunning { try await Task.sleep(for: .milliseconds(100)) }
        #expect(!up.isRunning)
        #expect(up.terminationStatus == 0)
        #expect(pids.allSatisfy { kill(pid_t($0), 0) != 0 })
    }

    @Test("cluster up --autoscale 1:3 adds workers under a burst and drains back to one after; no request fails")
    func autoscale() async throws {
        let port = 24_000 + Int.random(in: 0..<2000)
        let timeline = NSTemporaryDirectory() + "colony-autoscale-\(UUID().uuidString).csv"
        defer { try? FileManager.default.removeItem(atPath: timeline) }
        let up = Process()
        up.executableURL = CLI.binary
        up.arguments = [
            "cluster", "up", "--model", CLI.tinyModel, "--workers", "1", "--autoscale", "1:3", "--target-queue", "1",
            "--scale-up-delay", "1", "--scale-down-delay", "4", "--autoscale-log", timeline, "--port", String(port),
            "--threads", "1", "--kv-blocks", "64", "--max-batch", "2",
        ]
        up.standardError = FileHandle.nullDevice
        try up.run()
        defer { if up.isRunning { kill(up.processIdentifier, SIGKILL) } }
        try #require(await blocking { CLI.waitForPort(port) }, "the router did not start listening")
        let url = "http://127.0.0.1:\(port)"
        func actives() async throws -> Int {
            let r = try await blocking { try CLI.run(["cluster", "status", "--url", url, "--json"]) }
            guard r.status == 0, let o = try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any] else { return 0 }
            return (o["members"] as? [[String: Any]] ?? []).filter {
                $0["role"] as? String == "active" && $0["state"] as? String == "ready"
            }.count
        }
        for _ in 0..<150 where try await actives() < 1 { try await Task.sleep(for: .milliseconds(200)) }
        #expect(try await actives() == 1)

        // Bursts until a worker is added (at most 4): how long one burst lasts depends on how
        // busy the machine is, and the policy judges a 10 s mean of the queue.
        var most = 1
        for _ in 0..<4 where most < 2 {
            let load = Task {
                try await blocking {
                    try CLI.run(["loadgen", "--url", url, "--requests", "32", "--concurrency", "16", "--max-tokens", "160", "--json"])
                }
            }
            for _ in 0..<150 where most < 2 {
                most = max(most, try await actives())
                try await Task.sleep(for: .milliseconds(200))
            }
            let report = try await load.value
            #expect(report.status == 0)
            let object = try JSONSerialization.jsonObject(with: Data(report.stdout.utf8)) as? [String: Any]
            #expect(object?["errors"] as? Int == 0, "no request fails while workers come and go")
        }
        #expect(most >= 2, "the bursts added a worker")
        var now = most
        for _ in 0..<150 {
            now = try await actives()
            if now == 1 { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(now == 1, "back to one worker after the quiet delay")
        let rows = try String(contentsOfFile: timeline, encoding: .utf8).split(separator: "\n").dropFirst()
        let desired = rows.compactMap { $0.split(separator: ",").last.flatMap { Int($0) } }
        #expect(desired.contains { $0 > 1 })
        #expect(desired.last == 1)
        up.terminate()
        for _ in 0..<300 where up.isRunning { try await Task.sleep(for: .milliseconds(100)) }
        #expect(up.terminationStatus == 0)
    }

    @Test(
        "bad cluster input gives a clear error",
        arguments: [
            (["router", "--discovery", "zk://127.0.0.1:2181"], "unknown discovery URL 'zk://127.0.0.1:2181'"),
            (["router", "--discovery", "etcd://nohostport"], "etcd://HOST:PORT"),
            (
                ["router", "--discovery", "file:/tmp/x.json", "--migration-limit", "99"],
                "--migration-limit must be between 0 and 16, got 99"
            ),
            (
                ["router", "--discovery", "file:/tmp/x.json", "--dead-after", "0"],
                "--dead-after must be more than 0 and at most 3600 seconds"
            ),
            (["router", "--discovery", "file:/tmp/x.json", "--routing", "random"], "--routing must be one of kv, round-robin, least-load"),
            (["worker", "--role", "boss"], "--role must be active or spare"),
            (["worker", "--id", "two words"], "--id must be non-empty without spaces"),
            (["cluster", "up", "--workers", "0"], "--workers must be between 1 and 64"),
            (["cluster", "up", "--autoscale", "3:1"], "--autoscale must be MIN:MAX with 1 ≤ MIN ≤ MAX ≤ 64, got '3:1'"),
            (["cluster", "up", "--autoscale", "1:2", "--spares", "2"], "--spares (2) count toward the --autoscale maximum (2)"),
            (["cluster", "status", "--url", "http://127.0.0.1:1"], "cannot reach the router at http://127.0.0.1:1"),
        ])
    func badInput(arguments: [String], message: String) throws {
        let r = try CLI.run(arguments)
        #expect(r.status != 0)
        #expect(r.stderr.contains(message))
    }
}

/// Runs blocking work (a child process, a polling loop) on a GCD thread, so that an async
/// test does not hold one of the few threads every other async test needs.
func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try body() }) }
    }
}
