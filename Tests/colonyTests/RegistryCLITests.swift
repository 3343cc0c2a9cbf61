import Foundation
import Testing

/// `colony models …` and `ref:` on the command line, with the registry in a temporary folder.
@Suite("colony models: the registry on the command line", .serialized)
struct RegistryCLITests {
    @Test("register, list --json, promote, rollback, log; generate runs ref:NAME@REF, and a bad ref is refused")
    func registryCommands() throws {
        let dir = NSTemporaryDirectory() + "colony-registry-cli-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let env = ["COLONY_STORE": dir + "/colony.sqlite", "COLONY_REGISTRY": dir + "/registry"]
        let eval = dir + "/eval.json"
        try #"{"accuracy": 0.75}"#.write(toFile: eval, atomically: true, encoding: .utf8)
        let copy = dir + "/tiny-copy.gguf"
        try FileManager.default.copyItem(atPath: CLI.tinyModel, toPath: copy)

        let first = try CLI.run(["models", "register", "tiny", CLI.tinyModel, "--eval", eval, "--why", "first"], environment: env)
        #expect(first.status == 0, "\(first.stderr)")
        let id = first.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(id.count == 13 && id.hasPrefix("v"))
        let again = try CLI.run(["models", "register", "tiny", copy], environment: env)
        #expect(again.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == id, "the same bytes are the same version")

        #expect(try CLI.run(["models", "promote", "tiny", id, "--why", "ship it"], environment: env).status == 0)
        let list = try CLI.run(["models", "list", "tiny", "--json"], environment: env)
        let versions = try #require(try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]])
        #expect(versions.count == 1)
        let v = try #require(versions.first)
        #expect(v["id"] as? String == id)
        #expect(Set((v["refs"] as? [String]) ?? []) == ["dev", "prod"])
        #expect((v["digest"] as? String)?.count == 64)
        #expect(v["name"] as? String == "tiny")
        #expect(v["created_at"] is String)
        #expect((v["eval"] as? String)?.contains("0.75") == true)

        let generated = try CLI.run(
            ["generate", "--model", "ref:tiny@prod", "--raw", "--temperature", "0", "--max-tokens", "4", "--prompt", "hello"],
            environment: env)
        #expect(generated.status == 0, "\(generated.stderr)")
        #expect(!generated.stdout.isEmpty)

        let missing = try CLI.run(["generate", "--model", "ref:tiny@feature/nope", "--raw", "--prompt", "hi"], environment: env)
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("tiny@feature/nope is not in the registry"))

        #expect(try CLI.run(["models", "rollback", "tiny"], environment: env).stderr.contains("no earlier version to roll back to"))
        let log = try CLI.run(["models", "log", "tiny"], environment: env)
        #expect(log.stdout.contains("promote") && log.stdout.contains("ship it"))
    }
}
