import ColonyHTTP
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

        // Bursts back to back until a worker is added (for at most 90 s): how long one burst
        // lasts depends on the machine's speed, and the policy judges a 10 s mean of the queue.
        let load = Task {
            var reports: [String] = []
            while !Task.isCancelled, reports.count < 200 {
                let r = try await blocking {
                    try CLI.run(["loadgen", "--url", url, "--requests", "32", "--concurrency", "16", "--max-tokens", "160", "--json"])
                }
                #expect(r.status == 0, "\(r.stderr)")
                reports.append(r.stdout)
            }
            return reports
        }
        var most = 1
        for _ in 0..<450 where most < 2 {
            most = max(most, try await actives())
            try await Task.sleep(for: .milliseconds(200))
        }
        load.cancel()
        let reports = try await load.value
        #expect(!reports.isEmpty)
        for report in reports {
            let object = try JSONSerialization.jsonObject(with: Data(report.utf8)) as? [String: Any]
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

    @Test("agents swarm --cluster places every model call by score on the cluster's workers, with each task's priority")
    func swarmOnCluster() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("colony-cluster-swarm-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let spec = dir.appendingPathComponent("math.yaml")
        try
            "name: math\ninstructions: Use the calculator, then give the final answer.\ntools: [calculator]\nmax_steps: 1\nmax_tokens_per_step: 32\n"
            .write(to: spec, atomically: true, encoding: .utf8)
        let tasks = dir.appendingPathComponent("tasks.jsonl")
        try (0..<3).map { #"{"task":"What is \#($0) + 2?","expected":"\#($0 + 2)","priority":\#($0 - 1)}"# }.joined(separator: "\n")
            .write(to: tasks, atomically: true, encoding: .utf8)
        let swarm: @Sendable (String) -> [String] = { url in
            [
                "agents", "swarm", "--spec", spec.path, "--tasks", tasks.path, "--agents", "3", "--cluster", url,
                "--db", dir.appendingPathComponent("db.sqlite").path,
            ]
        }
        let unreachable = try await blocking { try CLI.run(swarm("http://127.0.0.1:1")) }
        #expect(unreachable.status != 0)
        #expect(unreachable.stderr.contains("--cluster: cannot reach the router at http://127.0.0.1:1"), "\(unreachable.stderr)")

        let port = 26_000 + Int.random(in: 0..<2000)
        let up = Process()
        up.executableURL = CLI.binary
        up.arguments = ["cluster", "up", "--workers", "2", "--port", String(port), "--threads", "1", "--max-batch", "2"]
        up.standardError = FileHandle.nullDevice
        try up.run()
        defer { if up.isRunning { kill(up.processIdentifier, SIGKILL) } }
        try #require(await blocking { CLI.waitForPort(port) }, "the router did not start listening")
        let url = "http://127.0.0.1:\(port)"
        for _ in 0..<300 {
            let r = try await blocking { try CLI.run(["cluster", "status", "--url", url]) }
            if r.stdout.components(separatedBy: "active  ready").count == 3 { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        let r = try await blocking { try CLI.run(swarm(url)) }
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("cluster: 2 ready workers (worker-1, worker-2), placement by score"), "\(r.stderr)")
        #expect(r.stdout.contains("runs            3 (0 failed), 3 agents at once"), "\(r.stdout)")
        // Every model call (one step per run) was placed by score, none by the router's default.
        let metrics = String(
            decoding: try HTTPClient.send("GET", try HTTPClient.Endpoint(url: url), path: "/metrics", timeout: 10).body, as: UTF8.self)
        #expect(metrics.contains(#"colony_router_decisions_total{policy="score",reason="score"} 3"#), "\(metrics)")
        #expect(!metrics.contains(#"policy="kv""#))
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
            (
                ["router", "--discovery", "file:/tmp/x.json", "--routing", "random"],
                "--routing must be one of kv, round-robin, least-load, score"
            ),
            (["worker", "--role", "boss"], "--role must be active or spare"),
            (["worker", "--id", "two words"], "--id must be non-empty without spaces"),
            (["cluster", "up", "--workers", "0"], "--workers must be between 1 and 64"),
            (["cluster", "up", "--autoscale", "3:1"], "--autoscale must be MIN:MAX with 1 ≤ MIN ≤ MAX ≤ 64, got '3:1'"),
            (["cluster", "up", "--autoscale", "1:2", "--spares", "2"], "--spares (2) count toward the --autoscale maximum (2)"),
            (["cluster", "status", "--url", "http://127.0.0.1:1"], "cannot reach the router at http://127.0.0.1:1"),
            (
                [
                    "agents", "swarm", "--spec", "a.yaml", "--tasks", "t.jsonl", "--endpoint", "http://127.0.0.1:1", "--cluster",
                    "http://127.0.0.1:2",
                ],
                "--endpoint and --cluster both name where the agents think; give one"
            ),
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
