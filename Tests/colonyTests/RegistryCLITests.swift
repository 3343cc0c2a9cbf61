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

    @Test("serve and train take ref: too; the server names the version it serves in the model field and a header")
    func serveAndTrain() throws {
        let dir = NSTemporaryDirectory() + "colony-registry-serve-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let env = ["COLONY_STORE": dir + "/colony.sqlite", "COLONY_REGISTRY": dir + "/registry"]
        let registered = try CLI.run(["models", "register", "tiny", CLI.tinyModel, "--ref", "prod"], environment: env)
        let id = registered.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(registered.status == 0 && id.hasPrefix("v"), "\(registered.stderr)")

        let port = 22_000 + Int.random(in: 0..<2000)
        let server = Process()
        server.executableURL = CLI.binary
        server.arguments = ["serve", "--model", "ref:tiny", "--port", String(port)]
        server.environment = ProcessInfo.processInfo.environment.merging(env) { _, new in new }
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer {
            kill(server.processIdentifier, SIGKILL)
            server.waitUntilExit()
        }
        try #require(CLI.waitForPort(port), "colony serve did not start listening")
        let client = """
            import json, urllib.request as u
            r = u.urlopen(u.Request("http://127.0.0.1:\(port)/v1/completions", data=b'{"prompt": "hi", "max_tokens": 2}',
                                    headers={"Content-Type": "application/json"}))
            print(r.headers["x-colony-model-version"]); print(json.load(r)["model"])
            """
        let answer = try CLI.run(["-c", client], executable: "/usr/bin/python3")
        #expect(answer.stdout.split(separator: "\n").map(String.init) == ["tiny@\(id)", "tiny@\(id)"], "\(answer.stderr)")

        let data = dir + "/data.jsonl"
        try (0..<4).map(TrainCLITests.conversation).joined(separator: "\n").write(toFile: data, atomically: true, encoding: .utf8)
        let trained = try CLI.run(
            [
                "train", "--base", "ref:tiny@prod", "--data", data, "--steps", "1", "--batch", "2", "--seq-len", "160", "--lora-rank", "4",
                "--export-type", "f32", "--out", dir + "/run",
            ], environment: env)
        #expect(trained.status == 0, "\(trained.stderr)")
        #expect(FileManager.default.fileExists(atPath: dir + "/run/model.gguf"))

        // A next version continues from this adapter (as `colony learn` trains from the serving one).
        let continued = try CLI.run(
            [
                "train", "--base", "ref:tiny@prod", "--data", data, "--steps", "1", "--batch", "2", "--seq-len", "160", "--lora-rank", "4",
                "--export-type", "f32", "--out", dir + "/run2", "--init-adapter", dir + "/run/adapter.gguf",
            ], environment: env)
        #expect(continued.status == 0 && continued.stderr.contains("LoRA starts from \(dir)/run/adapter.gguf"), "\(continued.stderr)")
        let misfit = try CLI.run(
            [
                "train", "--base", "ref:tiny@prod", "--data", data, "--steps", "1", "--seq-len", "160", "--lora-rank", "8",
                "--out", dir + "/run3", "--init-adapter", dir + "/run/adapter.gguf",
            ], environment: env)
        #expect(misfit.status != 0 && misfit.stderr.contains("(--lora-rank 8)"), "\(misfit.stderr)")

        // The adapter alone, registered on its base, runs on the same server without a restart.
        let adapter = try CLI.run(["models", "register", "tiny", dir + "/run/adapter.gguf", "--parent", id], environment: env)
        let adapterID = adapter.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(adapter.status == 0 && adapterID != id, "\(adapter.stderr)")
        let asked = try CLI.run(
            ["-c", client.replacingOccurrences(of: #""max_tokens": 2"#, with: #""max_tokens": 2, "model": "tiny@\#(adapterID)""#)],
            executable: "/usr/bin/python3")
        #expect(asked.stdout.split(separator: "\n").first.map(String.init) == "tiny@\(adapterID)", "\(asked.stderr)")
        let split = try CLI.run(["models", "split", "tiny", "prod=\(id):50,\(adapterID):50", "--why", "canary"], environment: env)
        #expect(split.status == 0, "\(split.stderr)")
        #expect(try CLI.run(["models", "split", "tiny"], environment: env).stdout == "tiny: prod=\(id):50,\(adapterID):50\n")
        let wrongFirst = try CLI.run(["models", "split", "tiny", "prod=\(adapterID):50,\(id):50"], environment: env)
        #expect(wrongFirst.status != 0 && wrongFirst.stderr.contains("the first version of a split is the one tiny@prod serves now"))
        let badSum = try CLI.run(["models", "split", "tiny", "prod=\(id):50,\(adapterID):60"], environment: env)
        #expect(badSum.status != 0 && badSum.stderr.contains("the shares sum to 110"))
        #expect(try CLI.run(["models", "split", "tiny", "--clear"], environment: env).status == 0)
        #expect(try CLI.run(["models", "log", "tiny"], environment: env).stdout.contains("split-clear"))
        let whole = try CLI.run(["generate", "--model", "ref:tiny@dev", "--raw", "--prompt", "hi"], environment: env)
        #expect(whole.status != 0 && whole.stderr.contains("is a LoRA adapter version"), "\(whole.stderr)")
        let ghost = try CLI.run(["train", "--base", "ref:ghost", "--data", data, "--out", dir + "/ghost"], environment: env)
        #expect(ghost.status != 0)
        #expect(ghost.stderr.contains("ghost@prod is not in the registry"), "\(ghost.stderr)")
    }
}
