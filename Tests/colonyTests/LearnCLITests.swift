import ColonyAgents
import ColonyModels
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite("colony learn")
struct LearnCLITests {
    /// The tiny model with room for an agent's prompt (its own context is 256 tokens).
    static func longContextTiny(in dir: URL) throws -> String {
        let file = try GGUFFile(contentsOf: CLI.tinyModel)
        var writer = GGUFWriter()
        for key in file.keys { writer.set(key, file.metadata[key]!) }
        writer.set("llama.context_length", .uint32(4096))
        for tensor in file.tensors { writer.add(tensor) }
        let path = dir.appendingPathComponent("tiny-4k.gguf").path
        try writer.write(to: path)
        return path
    }

    @Test("two rounds store every attempt once, write their reports, and a run killed mid-round continues where it stopped")
    func roundsAndKill() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("colony-learn-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let environment = [
            "COLONY_STORE": dir.appendingPathComponent("colony.sqlite").path,
            "COLONY_REGISTRY": dir.appendingPathComponent("registry").path,
        ]
        let registered = try CLI.run(
            ["models", "register", "tiny", try Self.longContextTiny(in: dir), "--ref", "prod"], environment: environment)
        #expect(registered.status == 0, "\(registered.stderr)")
        let out = dir.appendingPathComponent("learn")
        let arguments = [
            "learn", "--model", "ref:tiny", "--out", out.path, "--rounds", "2", "--attempts", "2", "--train-tasks", "1", "--held-out", "1",
            "--max-steps", "2", "--steps", "2", "--seq-len", "128",
        ]
        let bad = try CLI.run(["learn", "--model", CLI.tinyModel, "--out", out.path], environment: environment)
        #expect(bad.status != 0 && bad.stderr.contains("--model must be ref:NAME"))
        let badFamily = try CLI.run(arguments + ["--families", "arithmetic,poetry"], environment: environment)
        #expect(badFamily.status != 0 && badFamily.stderr.contains("unknown family 'poetry'"))

        // Killed once some attempts are stored, then run again to the end.
        let attempts = out.appendingPathComponent("attempts.jsonl")
        let first = Process()
        first.executableURL = CLI.binary
        first.arguments = arguments
        first.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        first.standardOutput = FileHandle.nullDevice
        first.standardError = FileHandle.nullDevice
        try first.run()
        let deadline = Date().addingTimeInterval(120)
        func lines() -> [String] { ((try? String(contentsOf: attempts, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init) }
        while lines().count < 2, first.isRunning, Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
        kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()
        let before = lines().count
        #expect(before >= 2, "the first run stored attempts before it was killed")

        let second = try CLI.run(arguments, environment: environment)
        #expect(second.status == 0, "\(second.stderr)")
        let keys = try lines().map { line in
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            #expect(object["version"] as? String != nil && object["reward"] as? Double != nil && object["trajectory"] != nil)
            return "\(object["round"]!)/\(object["task"]!)/\(object["attempt"]!)"
        }
        // 2 rounds × 4 families (units through a real `colony mcp`) × 2 attempts.
        #expect(keys.count == 2 * 4 * 2 && Set(keys).count == keys.count, "every attempt once: \(keys)")
        let report = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("report.json"))) as? [String: Any])
        let rounds = try #require(report["rounds"] as? [[String: Any]])
        #expect(rounds.map { $0["round"] as? Int } == [1, 2] && rounds.allSatisfy { $0["attempts"] as? Int == 8 })
        let baseline = try #require(report["baseline"] as? [String: Any])
        #expect((baseline["version"] as? String)?.hasPrefix("tiny@v") == true && baseline["generalLoss"] as? Double != nil)
        let families = try #require(baseline["heldOutPass1ByFamily"] as? [String: Double])
        #expect(families.keys.sorted() == ["arithmetic", "delegation", "recall", "units"])
        // The replay set: the base's replies to the replay prompts, none of the forgetting measure's.
        let replay = try String(contentsOf: out.appendingPathComponent("replay.jsonl"), encoding: .utf8).split(separator: "\n")
        let asked = try replay.map { line in
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: [[String: String]]])
            let messages = try #require(object["messages"])
            #expect(messages.map { $0["role"] } == ["user", "assistant"])
            return messages[0]["content"] ?? ""
        }
        #expect(asked == GeneralPrompts.replay && Set(asked).isDisjoint(with: GeneralPrompts.all))
        // A third run finds both rounds done and runs nothing again.
        let third = try CLI.run(arguments, environment: environment)
        #expect(third.status == 0 && third.stdout.contains("round 2: done before") && lines().count == keys.count)
    }
}
