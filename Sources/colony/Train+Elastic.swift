import ArgumentParser
import ColonyTraining
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The `--elastic` supervisor: runs the job under mpirun and, when a rank dies, starts it
/// again from the newest checkpoint (see `ElasticPolicy`), printing what it lost.
extension Train {
    /// Options with a value that the ranks do not get: the supervisor's own, and
    /// `--collective` (every rank runs over MPI).
    static let supervisorOptions: Set<String> = ["--ranks", "--rejoin-timeout", "--max-restarts", "--hostfile", "--mpirun", "--collective"]

    func superviseElastic() throws {
        let policy = try ElasticPolicy(ranks: ranks, rejoinTimeout: rejoinTimeout, maxRestarts: maxRestarts)
        let launcher = try mpirunPath()
        var world = ranks
        var restarts = 0
        var lost = 0
        while true {
            let from = Checkpoint.newestStep(output: out)
            writeErr("elastic: starting \(world) rank\(world == 1 ? "" : "s")\(from.map { " from the checkpoint of step \($0)" } ?? "")\n")
            let (status, output) = try runJob(launcher, ranks: world, resume: from != nil)
            if status == 0 { return }
            let failedAt = Date()
            let failure = ElasticPolicy.Failure.parse(output, status: status)
            if case .killed = failure { lost += 1 }
            let stamp = hostfileStamp()
            while true {
                // A rewritten hostfile is new membership: its slots replace the dead ones.
                if hostfile != nil && hostfileStamp() != stamp { lost = 0 }
                let waited = Date().timeIntervalSince(failedAt)
                switch policy.decide(failure, available: try offeredRanks() - lost, waited: waited, restarts: restarts) {
                case .wait:
                    Thread.sleep(forTimeInterval: 0.2)
                    continue
                case .giveUp(let reason):
                    writeErr("elastic: giving up: \(reason)\n")
                    throw ExitCode(status == 0 ? 1 : status)
                case .restart(let n):
                    let reached = Self.lastLoggedStep(out) ?? 0
                    let resumeAt = Checkpoint.newestStep(output: out) ?? 0
                    if case .killed(let rank, let signal) = failure {
                        writeErr(
                            "elastic: rank \(rank) died of signal \(signal) after step \(reached); restarting with \(n) rank\(n == 1 ? "" : "s") from step \(resumeAt) "
                                + "(\(max(0, reached - resumeAt)) steps lost, \(String(format: "%.1f", waited)) s after the failure\(n < ranks ? ", no replacement within --rejoin-timeout" : ""))\n"
                        )
                    }
                    world = n
                    restarts += 1
                }
                break
            }
        }
    }

    /// Runs one MPI job of `ranks` ranks of this command; returns mpirun's status and the
    /// end of its output (also passed on to this process's stderr).
    private func runJob(_ launcher: String, ranks: Int, resume: Bool) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: launcher)
        var arguments = ["--allow-run-as-root", "--oversubscribe", "-np", "\(ranks)"]
        if let hostfile { arguments += ["--hostfile", hostfile] }
        arguments += [CommandLine.arguments[0]] + memberArguments(resume: resume)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardError = pipe
        try process.run()
        var tail = Data()
        while case let chunk = pipe.fileHandleForReading.availableData, !chunk.isEmpty {
            FileHandle.standardError.write(chunk)
            tail = (tail + chunk).suffix(1 << 16)
        }
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: tail, as: UTF8.self))
    }

    /// This command's arguments for each rank: the supervisor's own options dropped, the
    /// ranks told they are elastic members, with `--resume` when there is a checkpoint.
    func memberArguments(resume: Bool) -> [String] {
        var kept: [String] = []
        var skipValue = false
        for argument in CommandLine.arguments.dropFirst() {
            if skipValue {
                skipValue = false
                continue
            }
            if argument == "--elastic" || argument == "--resume" { continue }
            if Self.supervisorOptions.contains(String(argument.prefix { $0 != "=" })) {
                skipValue = !argument.contains("=")
                continue
            }
            kept.append(argument)
        }
        return kept + ["--collective", "mpi", "--elastic-member"] + (resume ? ["--resume"] : [])
    }

    /// mpirun: `--mpirun`, else the one on PATH.
    private func mpirunPath() throws -> String {
        if let mpirun { return mpirun }
        for folder in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
            let candidate = "\(folder)/mpirun"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw ValidationError(
            "--elastic runs the job under mpirun, which is not on PATH: install OpenMPI (scripts/install-deps) or pass --mpirun PATH")
    }

    /// Ranks offered now: the hostfile's slots, else `--ranks` on this machine.
    private func offeredRanks() throws -> Int {
        guard let hostfile else { return ranks }
        guard let text = try? String(contentsOfFile: hostfile, encoding: .utf8) else {
            throw ValidationError("cannot read --hostfile \(hostfile)")
        }
        return text.split(separator: "\n").reduce(0) { sum, line in
            let words = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0].split(separator: " ")
            guard !words.isEmpty else { return sum }
            let slots = words.first { $0.hasPrefix("slots=") }.flatMap { Int($0.dropFirst(6)) } ?? 1
            return sum + slots
        }
    }

    private func hostfileStamp() -> Date? {
        hostfile.flatMap { try? FileManager.default.attributesOfItem(atPath: $0)[.modificationDate] as? Date }
    }

    /// The last step `log.jsonl` in `output` records.
    static func lastLoggedStep(_ output: String) -> Int? {
        guard let text = try? String(contentsOfFile: (output as NSString).appendingPathComponent("log.jsonl"), encoding: .utf8) else {
            return nil
        }
        return text.split(separator: "\n").compactMap { line -> Int? in
            guard line.contains("\"loss\""), let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                return nil
            }
            return object["step"] as? Int
        }.last
    }
}
