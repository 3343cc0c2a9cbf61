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

    /// Each value of `key` in a `log.jsonl`, in order (lines without it are skipped).
    static func logged(_ key: String, _ log: URL) throws -> [Double] {
        try String(contentsOf: log, encoding: .utf8).split(separator: "\n").compactMap {
            (try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?[key] as? Double
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
        let full = try Self.logged("loss", straight.appendingPathComponent("log.jsonl"))
        #expect(full.count == 6)

        let split = dir.appendingPathComponent("split")
        let first = try CLI.run(common + ["--out", split.path, "--stop-after", "4"])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("stopped at step 4 of 6"))
        let second = try CLI.run(common + ["--out", split.path, "--resume"])
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stderr.contains("resumed from"), "\(second.stderr)")
        #expect(
            try Self.logged("loss", split.appendingPathComponent("log.jsonl")) == full, "a resumed run follows the uninterrupted loss curve"
        )

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

    static let mpirun = MPIHosts.mpirun

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
        let expected = try Self.logged("loss", dir.appendingPathComponent("one/log.jsonl"))
        for zero in ["0", "3"] {
            let out = dir.appendingPathComponent("zero\(zero)")
            let r = try CLI.run(
                ["--allow-run-as-root", "--oversubscribe", "-np", "2", CLI.binary.path] + common
                    + ["--batch", "1", "--collective", "mpi", "--zero", zero, "--out", out.path], executable: Self.mpirun!)
            #expect(r.status == 0, "\(r.stderr)")
            let losses = try Self.logged("loss", out.appendingPathComponent("log.jsonl"))
            #expect(losses.count == 3 && zip(losses, expected).allSatisfy { abs($0 - $1) < 1e-4 }, "ZeRO \(zero): \(losses) vs \(expected)")
            #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("model.gguf").path))
        }
    }

    static let realModel = "models/SmolLM2-135M-Instruct.Q4_1.gguf"

    @Test(
        "the real model on two MPI ranks, as 2 pipeline stages and as 2 tensor-parallel ranks, follows one process",
        .enabled(if: mpirun != nil, "needs mpirun (scripts/install-deps installs openmpi-bin)"),
        .enabled(if: FileManager.default.fileExists(atPath: realModel), "needs the real model: run ./scripts/setup"))
    func mpiModelParallel() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = dir.appendingPathComponent("data.jsonl")
        try (0..<12).map(Self.conversation).joined(separator: "\n").write(to: data, atomically: true, encoding: .utf8)
        // float32 forward products: int16 ones quantise each block of activations, so the
        // tensor ranks' reordered sums (1e-7 apart) cross rounding steps and the first loss
        // differs from one process by 3e-4 (int16 itself is 5e-4 from float32 here).
        let common = [
            "train", "--base", Self.realModel, "--data", data.path, "--eval", data.path, "--steps", "2", "--seq-len", "64",
            "--batch", "2", "--micro-batches", "2", "--lora-rank", "4", "--lr", "0.01", "--warmup", "1", "--export-type", "f32",
            "--precision", "float32", "--eval-batches", "2",
        ]
        let single = try CLI.run(common + ["--out", dir.appendingPathComponent("one").path])
        #expect(single.status == 0, "\(single.stderr)")
        let one = dir.appendingPathComponent("one/log.jsonl")
        let (losses, norms, evals) = (try Self.logged("loss", one), try Self.logged("grad_norm", one), try Self.logged("eval_loss", one))
        #expect(losses.count == 2 && evals.count == 2)
        for mode in [["--pipeline-stages", "2"], ["--tensor-parallel", "2"]] {
            let out = dir.appendingPathComponent(String(mode[0].dropFirst(2)))
            let r = try CLI.run(
                ["--allow-run-as-root", "--oversubscribe", "-np", "2", CLI.binary.path] + common + mode
                    + ["--collective", "mpi", "--out", out.path], executable: Self.mpirun!)
            #expect(r.status == 0, "\(mode[0]): \(r.stderr)")
            let log = out.appendingPathComponent("log.jsonl")
            for (key, expected) in [("loss", losses), ("grad_norm", norms), ("eval_loss", evals)] {
                let got = try Self.logged(key, log)
                #expect(
                    got.count == expected.count && zip(got, expected).allSatisfy { abs($0 - $1) < 2e-5 * max(1, $1) },
                    "\(mode[0]) \(key): \(got) vs \(expected)")
            }
            #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("model.gguf").path))
        }
        #expect(try Self.logged("pipeline_wait_s", dir.appendingPathComponent("pipeline-stages/log.jsonl")).count == 2)
    }

    @Test(
        "asynchronous training under mpirun: 2 workers and a parameter server learn, as ps and as hybrid with FP16 deltas",
        .enabled(if: mpirun != nil, "needs mpirun (scripts/install-deps installs openmpi-bin)"))
    func mpiAsynchronous() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = dir.appendingPathComponent("data.jsonl")
        try (0..<12).map(Self.conversation).joined(separator: "\n").write(to: data, atomically: true, encoding: .utf8)
        for sync in ["ps", "hybrid"] {
            let out = dir.appendingPathComponent(sync)
            let r = try CLI.run(
                [
                    "--allow-run-as-root", "--oversubscribe", "-np", "3", CLI.binary.path, "train", "--base", CLI.tinyModel, "--data",
                    data.path, "--eval", data.path, "--steps", "8", "--seq-len", "160", "--batch", "2", "--lora-rank", "4", "--lr", "0.01",
                    "--warmup", "1", "--export-type", "f32", "--collective", "mpi", "--sync", sync, "--delta-every", "2",
                    "--sync-every", "4", "--out", out.path,
                ], executable: Self.mpirun!)
            #expect(r.status == 0, "\(sync): \(r.stderr)")
            let log = out.appendingPathComponent("log.jsonl")
            let evals = try Self.logged("eval_loss", log)
            #expect(evals.count == 2 && evals[1] < evals[0], "\(sync): eval loss \(evals)")
            #expect(try Self.logged("version", log).count == 8, "every step logs its exchange")
            #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("model.gguf").path))
            if sync == "ps" {
                // Two workers race on three processes over two cores, so one can run more than
                // --max-staleness updates ahead and have an update rejected; every one of the 16 is
                // accounted for either way.
                let tally = try #require(
                    r.stdout.firstMatch(of: /parameter servers: (\d+) updates applied, (\d+) rejected/), "\(r.stdout)")
                #expect(Int(tally.1)! + Int(tally.2)! == 16 && Int(tally.1)! >= 8, "\(r.stdout)")
            } else {
                // Steps 2 and 6 send an FP16 delta, 4 and 8 the whole f32 parameters.
                let bytes = try Self.logged("bytes_sent", log)
                #expect(bytes[0] == 0 && abs(bytes[1] / bytes[3] - 0.5) < 0.01, "bytes per step \(bytes)")
            }
        }
    }

    @Test(
        "two hosts (network namespaces on a bridge, launched through a hostfile) train as 2 pipeline stages as one process does",
        .enabled(if: mpirun != nil, "needs mpirun (scripts/install-deps installs openmpi-bin)"),
        .enabled(if: MPIHosts.possible, "needs root and `ip netns` to make hosts"))
    func mpiAcrossHosts() throws {
        let hosts = try #require(try MPIHosts(count: 2), "the namespaces and their bridge could not be made")
        defer { hosts.remove() }
        let data = hosts.folder.appendingPathComponent("data.jsonl")
        try (0..<12).map(Self.conversation).joined(separator: "\n").write(to: data, atomically: true, encoding: .utf8)
        let common = [
            "train", "--base", CLI.tinyModel, "--data", data.path, "--steps", "3", "--seq-len", "160", "--batch", "2",
            "--micro-batches", "2", "--lora-rank", "4", "--lr", "0.01", "--warmup", "1", "--export-type", "f32",
        ]
        let single = try CLI.run(common + ["--out", hosts.folder.appendingPathComponent("one").path])
        #expect(single.status == 0, "\(single.stderr)")
        let expected = try Self.logged("loss", hosts.folder.appendingPathComponent("one/log.jsonl"))
        let before = (1...2).map(hosts.sentBytes)
        let out = hosts.folder.appendingPathComponent("two")
        let r = try hosts.mpirun(
            [CLI.binary.path] + common + ["--collective", "mpi", "--pipeline-stages", "2", "--out", out.path], deadline: 120)
        #expect(r.status == 0, "\(r.stderr)")
        let losses = try Self.logged("loss", out.appendingPathComponent("log.jsonl"))
        #expect(losses.count == 3 && zip(losses, expected).allSatisfy { abs($0 - $1) < 1e-5 }, "\(losses) vs \(expected)")
        // Each micro-batch's activations (160 tokens × 64 floats) went one way over the links
        // and their gradients the other.
        let sent = zip((1...2).map(hosts.sentBytes), before).map { $0 - $1 }
        #expect(sent.allSatisfy { $0 >= 3 * 2 * 160 * 64 * 4 }, "bytes each host sent: \(sent)")
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
            (["--batch", "3", "--micro-batches", "2"], "--batch 3 is not divisible by --micro-batches 2"),
            (["--pipeline-stages", "2"], "run under mpirun with --collective mpi and a multiple of 2 ranks"),
            (["--tensor-parallel", "0", "--collective", "mpi"], "--tensor-parallel must be ≥ 1, got 0"),
            (["--sync", "async"], "--sync must be dp, ps or hybrid, got 'async'"),
            (["--sync", "ps"], "--sync ps needs ranks: run under mpirun with --collective mpi"),
            (["--sync", "hybrid", "--collective", "mpi", "--zero", "1"], "--sync hybrid trains each worker's whole model"),
            (["--sync", "ps", "--collective", "mpi", "--checkpoint-every", "5"], "--sync ps keeps no checkpoints"),
            (["--delta-top-k", "0"], "--delta-top-k must be a fraction in (0, 1], got 0.0"),
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
