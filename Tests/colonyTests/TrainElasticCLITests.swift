import ColonyTestSupport
import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite("colony train --elastic", .serialized)
struct TrainElasticCLITests {
    /// The rank a test killed, set from the thread that watches the run.
    final class Killed: Sendable {
        let pid = Mutex<pid_t?>(nil)
    }

    /// Options of every run: the tiny model, ZeRO 1 (sharded checkpoints), a checkpoint every
    /// 10 steps, gradients reduced during backward (a second thread calling MPI).
    static func options(_ data: URL) -> [String] {
        [
            "train", "--base", CLI.tinyModel, "--data", data.path, "--steps", "60", "--seq-len", "160", "--batch", "4",
            "--micro-batches", "4", "--lora-rank", "4", "--lr", "0.01", "--warmup", "1", "--export-type", "f32", "--zero", "1",
            "--checkpoint-every", "10", "--elastic", "--rejoin-timeout", "1", "--overlap",
        ]
    }

    /// Loss by step from a run's log; a step logged twice (redone after a restart) keeps its last value.
    static func losses(_ out: URL) throws -> [Int: Double] {
        var losses: [Int: Double] = [:]
        for line in try String(contentsOf: out.appendingPathComponent("log.jsonl"), encoding: .utf8).split(separator: "\n") {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            if let step = object?["step"] as? Int, let loss = object?["loss"] as? Double { losses[step] = loss }
        }
        return losses
    }

    /// The pid of MPI rank `rank` of the job writing to `out`, found by its command line and environment.
    static func rank(_ rank: Int, of out: String) -> pid_t? {
        let pids = (try? FileManager.default.contentsOfDirectory(atPath: "/proc"))?.compactMap { Int32($0) } ?? []
        return pids.first { pid in
            guard let command = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"),
                String(decoding: command, as: UTF8.self).contains("--elastic-member"),
                String(decoding: command, as: UTF8.self).contains(out),
                let environment = FileManager.default.contents(atPath: "/proc/\(pid)/environ")
            else { return false }
            return String(decoding: environment, as: UTF8.self).split(separator: "\0").contains("OMPI_COMM_WORLD_RANK=\(rank)")
        }
    }

    @Test(
        "a rank SIGKILLed mid run: the job restarts from the newest checkpoint with the rank left, finishes by itself, and follows a manual resume",
        .enabled(if: BoundedProcess.mpirun != nil, "needs mpirun (scripts/install-deps installs openmpi-bin)"))
    func killedRank() throws {
        let dir = try TrainCLITests.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = dir.appendingPathComponent("data.jsonl")
        try (0..<12).map(TrainCLITests.conversation).joined(separator: "\n").write(to: data, atomically: true, encoding: .utf8)
        let out = dir.appendingPathComponent("elastic")
        // Kills rank 1 once 25 steps are logged; gives up after 60 s.
        let killed = Killed()
        let killer = Thread {
            let deadline = Date().addingTimeInterval(60)
            while Date() < deadline {
                if ((try? Self.losses(out).count) ?? 0) >= 25, let pid = Self.rank(1, of: out.path) {
                    kill(pid, SIGKILL)
                    killed.pid.withLock { $0 = pid }
                    return
                }
                usleep(20_000)
            }
        }
        killer.start()
        let run = try BoundedProcess.run(CLI.binary.path, Self.options(data) + ["--ranks", "2", "--out", out.path], deadline: 180)
        #expect(run.status == 0 && !run.timedOut, "\(run.stderr.suffix(3000))")
        #expect(killed.pid.withLock { $0 } != nil, "rank 1 was found and killed")
        let restart = try #require(
            run.stderr.firstMatch(of: /rank 1 died of signal 9 after step (\d+); restarting with 1 rank from step (\d+)/),
            "\(run.stderr.suffix(3000))")
        let (reached, resumedAt) = (Int(restart.1)!, Int(restart.2)!)
        #expect(resumedAt >= 10 && resumedAt % 10 == 0 && resumedAt <= reached, "resumed at \(resumedAt) after reaching \(reached)")
        #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("model.gguf").path))
        let elastic = try Self.losses(out)
        #expect(elastic.count == 60)

        // What a person would have done: stop at that checkpoint and resume with one rank.
        let manual = dir.appendingPathComponent("manual")
        for ranks in ["2", "1"] {
            let stop = ranks == "2" ? ["--stop-after", "\(resumedAt)"] : []
            let r = try BoundedProcess.run(
                CLI.binary.path, Self.options(data) + ["--ranks", ranks, "--out", manual.path] + stop, deadline: 120)
            #expect(r.status == 0, "\(r.stderr.suffix(2000))")
        }
        let expected = try Self.losses(manual)
        #expect(expected.count == 60)
        for step in 1...60 {
            #expect(elastic[step] == expected[step], "step \(step): \(elastic[step] ?? .nan) vs \(expected[step] ?? .nan)")
        }
    }
}
