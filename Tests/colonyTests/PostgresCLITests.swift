import Foundation
import Testing

/// Shared state on the project's own PostgreSQL (`scripts/postgres`), from separate processes.
@Suite("colony on a shared PostgreSQL", .serialized)
struct PostgresCLITests {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardized

    static func postgresURL() throws -> String {
        if let url = ProcessInfo.processInfo.environment["COLONY_TEST_POSTGRES"] { return url }
        let r = try CLI.run(["start"], executable: repo.appendingPathComponent("scripts/postgres").path)
        try #require(r.status == 0, "scripts/postgres start: \(r.stderr)")
        return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test("an agent in one process remembers a fact that an agent in another process recalls, through PostgreSQL")
    func sharedMemory() throws {
        let url = try Self.postgresURL()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("colony-pg-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let spec = dir.appendingPathComponent("notes.yaml")
        try "name: notes\ninstructions: Keep notes.\ntools: [memory.save, memory.search]\nmax_steps: 3\n".write(
            to: spec, atomically: true, encoding: .utf8)
        let token = "vault" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(10).lowercased()
        let port = 20_000 + Int.random(in: 0..<2000)
        let endpoint = Process()
        endpoint.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        endpoint.arguments = [Self.repo.appendingPathComponent("Tests/colonyTests/scripted_endpoint.py").path, String(port)]
        try endpoint.run()
        defer {
            // SIGKILL: the test runner's blocked signals are inherited, SIGTERM may not land.
            kill(endpoint.processIdentifier, SIGKILL)
            endpoint.waitUntilExit()
        }
        try #require(CLI.waitForPort(port), "the scripted endpoint did not start")
        func swarm(_ task: String, expected: String) throws -> CLI.Result {
            let tasks = dir.appendingPathComponent("tasks-\(UUID().uuidString).jsonl")
            try #"{"task": "\#(task)", "expected": "\#(expected)"}"#.write(to: tasks, atomically: true, encoding: .utf8)
            return try CLI.run([
                "agents", "swarm", "--spec", spec.path, "--tasks", tasks.path, "--endpoint", "http://127.0.0.1:\(port)", "--store", url,
            ])
        }
        let saved = try swarm("remember the code of \(token) is 4217", expected: "saved as memory")
        #expect(saved.status == 0, "\(saved.stderr)")
        #expect(saved.stdout.contains("success         1/1"), "\(saved.stdout)")
        let recalled = try swarm("recall \(token)", expected: "the code of \(token) is 4217")
        #expect(recalled.status == 0, "\(recalled.stderr)")
        #expect(recalled.stdout.contains("success         1/1"), "the second process found the first one's memory: \(recalled.stdout)")
        let missing = try CLI.run(["agents", "show", "ghost", "--store", "postgres://nobody@127.0.0.1:1/none?connect_timeout=2"])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("PostgreSQL at 127.0.0.1:1 did not answer within 2 s"), "\(missing.stderr)")
    }
}
