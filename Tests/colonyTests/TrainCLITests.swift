import Foundation
import Testing

@Suite("colony train and eval", .serialized)
struct TrainCLITests {
    static func conversation(_ i: Int) -> String {
        let q = "what is \(i) plus \(i)?"
        let a = "\(i) plus \(i) is \(2 * i)."
        return #"{"messages": [{"role": "user", "content": "\#(q)"}, {"role": "assistant", "content": "\#(a)"}], "reward": \#(i % 2)}"#
    }

    static func folder() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("colony-train-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    static func losses(_ log: URL) throws -> [Double] {
        try String(contentsOf: log, encoding: .utf8).split(separator: "\n").compactMap {
            (try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["loss"] as? Double
        }
    }

    @Test("LoRA training writes checkpoints, a log and a model that generate and eval load; resume follows the same curve")
    func trainResumeExport() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = dir.appendingPathComponent("data.jsonl")
        try (0..<12).map(Self.conversation).joined(separator: "\n").write(to: data, atomically: true, encoding: .utf8)
        let common = [
            "train", "--base", CLI.tinyModel, "--data", data.path, "--eval", data.path, "--steps", "6", "--batch", "2",
            "--seq-len", "160", "--lora-rank", "4", "--lr", "0.01", "--warmup", "1", "--export-type", "f32",
        ]

        let straight = dir.appendingPathComponent("straight")
        let r = try CLI.run(common + ["--out", straight.path])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("data: 12 conversations"), "\(r.stderr)")
        #expect(r.stderr.contains("eval at step 6: loss"), "\(r.stderr)")
        let full = try Self.losses(straight.appendingPathComponent("log.jsonl"))
        #expect(full.count == 6)

        let split = dir.appendingPathComponent("split")
        let first = try CLI.run(common + ["--out", split.path, "--stop-after", "4"])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("stopped at step 4 of 6"))
        let second = try CLI.run(common + ["--out", split.path, "--resume"])
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stderr.contains("resumed from"), "\(second.stderr)")
        #expect(try Self.losses(split.appendingPathComponent("log.jsonl")) == full, "a resumed run follows the uninterrupted loss curve")

        let model = straight.appendingPathComponent("model.gguf").path
        let gen = try CLI.run(["generate", "--model", model, "--prompt", "what is 2 plus 2?", "--max-tokens", "4"])
        #expect(gen.status == 0, "\(gen.stderr)")
        let eval = try CLI.run(["eval", "--model", model, "--data", data.path, "--seq-len", "160"])
        #expect(eval.status == 0, "\(eval.stderr)")
        #expect(eval.stdout.contains("perplexity"), "\(eval.stdout)")
        let base = try CLI.run(["eval", "--model", CLI.tinyModel, "--data", data.path, "--seq-len", "160"])
        func loss(_ s: String) -> Double? { s.split(separator: " ").dropFirst().first.flatMap { Double($0) } }
        let trained = try #require(loss(eval.stdout))
        let untrained = try #require(loss(base.stdout))
        #expect(trained < untrained, "training lowered the loss on its data: \(untrained) → \(trained)")
    }

    static let mpirun = ["/usr/bin/mpirun", "/usr/local/bin/mpirun"].first { FileManager.default.isExecutableFile(atPath: $0) }

    @Test(
        "two MPI ranks with a sequence each follow one process with both, under ZeRO 0 and 3",
        .enabled(if: mpirun != nil, "needs mpirun (scripts/install-deps installs openmpi-bin)"))
    func mpiDataParallel() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = dir.appendingPathComponent("data.jsonl")
        try (0..<12).map(Self.conversation).joined(separator: "\n").write(to: data, atomically: true, encoding: .utf8)
        let common = [
            "train", "--base", CLI.tinyModel, "--data", data.path, "--steps", "3", "--seq-len", "160",
            "--lora-rank", "4", "--lr", "0.01", "--warmup", "1", "--export-type", "f32",
        ]
        let single = try CLI.run(common + ["--batch", "2", "--out", dir.appendingPathComponent("one").path])
        #expect(single.status == 0, "\(single.stderr)")
        let expected = try Self.losses(dir.appendingPathComponent("one/log.jsonl"))
        for zero in ["0", "3"] {
            let out = dir.appendingPathComponent("zero\(zero)")
            let r = try CLI.run(
                ["--allow-run-as-root", "--oversubscribe", "-np", "2", CLI.binary.path] + common
                    + ["--batch", "1", "--collective", "mpi", "--zero", zero, "--out", out.path], executable: Self.mpirun!)
            #expect(r.status == 0, "\(r.stderr)")
            let losses = try Self.losses(out.appendingPathComponent("log.jsonl"))
            #expect(losses.count == 3 && zip(losses, expected).allSatisfy { abs($0 - $1) < 1e-4 }, "ZeRO \(zero): \(losses) vs \(expected)")
            #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("model.gguf").path))
        }
    }

    @Test(
        "bad data is reported with its line number before any training",
        arguments: [
            ("{\"messages\": []}", "data.jsonl:2: \"messages\" must be a non-empty array"),
            ("not json", "data.jsonl:2: not valid JSON"),
            ("{\"messages\": [{\"role\": \"wizard\", \"content\": \"x\"}]}", "data.jsonl:2: messages[0] has role 'wizard'"),
            ("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}", "data.jsonl:2: no assistant message"),
        ])
    func badData(line: String, message: String) throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = dir.appendingPathComponent("data.jsonl")
        try (Self.conversation(1) + "\n" + line + "\n").write(to: data, atomically: true, encoding: .utf8)
        let out = dir.appendingPathComponent("out")
        let r = try CLI.run(["train", "--base", CLI.tinyModel, "--data", data.path, "--steps", "2", "--seq-len", "160", "--out", out.path])
        #expect(r.status != 0)
        #expect(r.stderr.contains(message), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out.path), "nothing is written for a broken file")
    }

    @Test(
        "bad options name the problem",
        arguments: [
            (["--steps", "0"], "--steps must be ≥ 1, got 0"),
            (["--optimizer", "adam"], "--optimizer must be adamw or sgd"),
            (["--export-type", "q5_k"], "--export-type must be one of f16, f32, q4_1, q8_0"),
            (["--lora-targets", "q,qkv"], "unknown LoRA target 'qkv'"),
            (["--resume"], "--resume: no checkpoint in"),
            (["--zero", "4", "--collective", "mpi"], "--zero must be 0, 1, 2 or 3"),
        ])
    func badOptions(arguments: [String], message: String) throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = dir.appendingPathComponent("data.jsonl")
        try Self.conversation(1).write(to: data, atomically: true, encoding: .utf8)
        let r = try CLI.run(
            ["train", "--base", CLI.tinyModel, "--data", data.path, "--seq-len", "160", "--out", dir.appendingPathComponent("o").path]
                + arguments)
        #expect(r.status != 0)
        #expect(r.stderr.contains(message), "\(r.stderr)")
    }
}
