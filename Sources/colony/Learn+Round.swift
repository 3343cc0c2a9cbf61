import ArgumentParser
import ColonyAgents
import ColonyBench
import ColonyModels
import ColonyRegistry
import ColonyServer
import Foundation

/// The base's yardstick, measured once before the first round.
struct LearnBaseline: Codable {
    var version: String
    /// Greedy, as every round's version is measured.
    var heldOutPass1: Double
    /// From 8 sampled attempts per task: the mean success rate, and the share solved at least once.
    var heldOutSampledPass1: Double
    var heldOutPass8: Double
    /// Greedy pass@1 per family (`arithmetic`, `units`, …).
    var heldOutPass1ByFamily: [String: Double]?
    var generalLoss: Double
}

/// One round's report (DIR/round-N/report.json), written when the round is done.
struct LearnRound: Codable {
    var round: Int
    var serving: String
    var attempts: Int
    var successes: Int
    var skippedByBudget: Int
    var trainingExamples: Int
    /// Lines of the base's own everyday replies mixed in against forgetting (`--no-replay`: 0).
    var replayExamples: Int?
    /// The version serving when training started: the new version's parent.
    var parent: String?
    /// The adapter version this round's LoRA started from (nil: from zero on the base).
    var startedFrom: String?
    var dataDigest: String?
    var version: String?
    var trainLoss: Double?
    var heldOutPass1: Double?
    var heldOutPass1ByFamily: [String: Double]?
    var generalLoss: Double?
    var canary: String?
    var seconds: Double
}

extension LearningLoop {
    /// Measures the serving version before any learning: held-out pass@1 and pass@8, and
    /// the base's loss on general chat (its own greedy replies to `GeneralPrompts`).
    func baseline() async throws {
        guard read(LearnBaseline.self, from: path("baseline.json")) == nil else { return }
        let serving = try await serving()
        let adapter = try await catalog.select(model: "\(name)@\(serving)", session: nil, key: "baseline").adapter
        try await writeReplies(to: GeneralPrompts.all, file: path("general.jsonl"))
        let greedy = try await solved(heldOut, adapter: adapter, tries: 1, label: "baseline held-out pass@1")
        let sampled = try await solved(heldOut, adapter: adapter, tries: 8, label: "baseline held-out, 8 samples each")
        let n = Double(max(1, heldOut.count))
        let report = LearnBaseline(
            version: "\(name)@\(serving)", heldOutPass1: Double(greedy.reduce(0, +)) / n,
            heldOutSampledPass1: Double(sampled.reduce(0, +)) / (8 * n), heldOutPass8: Double(sampled.filter { $0 > 0 }.count) / n,
            heldOutPass1ByFamily: byFamily(greedy), generalLoss: try generalLoss(model: base.path))
        try write(report, to: path("baseline.json"))
        writeOut(
            String(
                format: "baseline %@: held-out pass@1 %.0f%% (greedy), %.0f%% (sampled), pass@8 %.0f%%, general-chat loss %.4f\n",
                report.version, 100 * report.heldOutPass1, 100 * report.heldOutSampledPass1, 100 * report.heldOutPass8, report.generalLoss))
    }

    /// The base's greedy replies to `prompts` as chat-data lines in `file`, written once.
    private func writeReplies(to prompts: [String], file: String) async throws {
        guard !FileManager.default.fileExists(atPath: file) else { return }
        let client = EngineClient(engine: engine, template: template)
        var lines: [String] = []
        for prompt in prompts {
            let reply = try await client.complete(LLMRequest(messages: [ChatMessage(role: "user", content: prompt)], maxTokens: 96))
            let messages = [["role": "user", "content": prompt], ["role": "assistant", "content": reply.text]]
            lines.append(
                String(decoding: try JSONSerialization.data(withJSONObject: ["messages": messages], options: .sortedKeys), as: UTF8.self))
        }
        try (lines.joined(separator: "\n") + "\n").write(toFile: file, atomically: true, encoding: .utf8)
    }

    func round(_ r: Int) async throws {
        let dir = path("round-\(r)")
        if let done = read(LearnRound.self, from: (dir as NSString).appendingPathComponent("report.json")) {
            writeOut("round \(r): done before (\(done.version ?? "no version"))\n")
            return
        }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        if command.replay { try await writeReplies(to: GeneralPrompts.replay, file: path("replay.jsonl")) }
        let started = Date()
        let serving = try await serving()
        var report = LearnRound(
            round: r, serving: "\(name)@\(serving)", attempts: 0, successes: 0, skippedByBudget: 0, trainingExamples: 0, seconds: 0)

        // 1. Attempts through the server, so a canary split and its gate see them.
        let stored = Set(try attempts.read().map(\.key))
        let total = train.count * command.attempts
        var done = 0
        for task in train {
            for a in 0..<command.attempts {
                done += 1
                let key = "\(r)/\(task.name)/\(a)"
                if stored.contains(key) { continue }
                guard Date().timeIntervalSince(started) < 60 * command.roundMinutes else {
                    report.skippedByBudget += 1
                    continue
                }
                writeErr(ProgressBar(width: 24).line(done, of: total, "round \(r) attempts: \(task.name) #\(a)"))
                var sampling = SamplingParameters.greedy
                sampling.temperature = command.temperature
                sampling.seed = UInt64(r) &* 1_000_003 &+ UInt64(a) &* 7_919 &+ UInt64(done)
                let session = try OpenAIClient(url: url, model: name, headers: ["x-session-id": "learn-\(key)"])
                let result = try await TaskSuite.run(
                    task, client: session, store: store, maxSteps: command.maxSteps, sampling: sampling, servers: toolServers)
                try await checkToolServers()
                try attempts.append(
                    Attempt(
                        round: r, task: task.name, attempt: a, version: result.graded.servedBy ?? "\(name)@\(serving)",
                        reward: result.reward,
                        trajectory: Trajectory(run: result.graded, agent: task.name, task: task.prompts.last!, reward: result.reward)))
            }
        }
        writeErr("\n")
        let all = try attempts.read()
        let mine = all.filter { $0.round == r }
        report.attempts = mine.count
        report.successes = mine.filter { $0.reward == 1 }.count

        // 2. Training data: every success so far, from the model's own attempts only.
        let successes = all.filter { $0.reward == 1 }
        report.trainingExamples = successes.count
        guard !successes.isEmpty else {
            writeOut("round \(r): no successful attempt yet, so nothing to learn from\n")
            return try finish(&report, started: started, dir: dir)
        }
        // Replay: the base's own everyday replies (a prompt set apart from the forgetting
        // measure's), so the adapter is pulled back towards the base off the tasks.
        let replay = command.replay ? try String(contentsOfFile: path("replay.jsonl"), encoding: .utf8) : ""
        report.replayExamples = replay.split(separator: "\n").count
        let data = try successes.map { try $0.trajectory.jsonLine() }.joined(separator: "\n") + "\n" + replay
        let dataPath = (dir as NSString).appendingPathComponent("data.jsonl")
        try data.write(toFile: dataPath, atomically: true, encoding: .utf8)
        report.dataDigest = try BlobStore.sha256(path: dataPath)

        // 3. A LoRA on the base (from the serving adapter with --init-from serving), from its
        // newest checkpoint if a killed run left one.
        let runDir = (dir as NSString).appendingPathComponent("train")
        let marker = (runDir as NSString).appendingPathComponent("done")
        let settings = [
            "--steps", "\(command.steps)", "--seq-len", "\(command.seqLen)", "--batch", "4", "--lora-rank", "\(command.loraRank)",
            "--lr", "\(command.lr)", "--warmup", "\(max(1, command.steps / 10))", "--export-type", "f32", "--checkpoint-every", "10",
        ]
        // The version the LoRA descends from: the one serving when training first starts (the
        // gate may have promoted during the attempts), kept in train/parent so that a resumed
        // run starts from, and registers under, the same one.
        let parentFile = (runDir as NSString).appendingPathComponent("parent")
        let parent: String
        if let kept = try? String(contentsOfFile: parentFile, encoding: .utf8) {
            parent = kept
        } else {
            parent = try await self.serving()
            try FileManager.default.createDirectory(atPath: runDir, withIntermediateDirectories: true)
            try parent.write(toFile: parentFile, atomically: true, encoding: .utf8)
        }
        report.parent = "\(name)@\(parent)"
        var start: [String] = []
        if command.initFrom == .serving, let version = try await registry.store.version(id: parent),
            let adapter = try await RegistryCatalog.base(of: version, in: registry).adapter
        {
            start = ["--init-adapter", try registry.weights(of: adapter)]
            report.startedFrom = "\(name)@\(adapter.id)"
        }
        if !FileManager.default.fileExists(atPath: marker) {
            let checkpoints =
                (try? FileManager.default.contentsOfDirectory(atPath: (runDir as NSString).appendingPathComponent("checkpoints"))) ?? []
            _ = try colony(
                ["train", "--base", base.path, "--data", dataPath, "--out", runDir] + settings + start
                    + (checkpoints.contains { $0.hasSuffix(".ckpt") } ? ["--resume"] : []))
            _ = FileManager.default.createFile(atPath: marker, contents: nil)
        }
        report.trainLoss = lastLoss(in: (runDir as NSString).appendingPathComponent("log.jsonl"))

        // 4. Held-out success and general-chat loss of the new adapter.
        let adapterPath = (runDir as NSString).appendingPathComponent("adapter.gguf")
        let adapter = try LoRAWeights(gguf: try GGUFFile(contentsOf: adapterPath), name: "learn-round-\(r)", base: config)
        let greedy = try await solved(heldOut, adapter: adapter, tries: 1, label: "round \(r) held-out pass@1")
        report.heldOutPass1 = Double(greedy.reduce(0, +)) / Double(max(1, heldOut.count))
        report.heldOutPass1ByFamily = byFamily(greedy)
        report.generalLoss = try generalLoss(model: (runDir as NSString).appendingPathComponent("model.gguf"))

        // 5. Registered whole (the blob first, then its row), with its evidence.
        let evalJSON = String(
            decoding: try JSONSerialization.data(
                withJSONObject: [
                    "held_out_pass1": report.heldOutPass1!, "general_loss": report.generalLoss!, "held_out_tasks": heldOut.count,
                    "train_loss": report.trainLoss ?? .nan,
                ], options: .sortedKeys), as: UTF8.self)
        let (version, _) = try await registry.register(
            name: name, file: adapterPath, ref: "dev", parent: parent,
            config: (["learn", "--round", "\(r)"] + settings + ["--init-from", report.startedFrom ?? "zero"]).joined(separator: " "),
            eval: evalJSON, dataDigest: report.dataDigest, run: "learn \(command.out) round \(r)", why: "colony learn round \(r)")
        report.version = "\(name)@\(version.id)"

        // 6. A canary against the version serving now (the gate may have promoted the last
        // round's while this one attempted): the next round's attempts are its traffic.
        let now = try await self.serving()
        if try await registry.split(name: name) == nil, version.id != now {
            let text = "prod=\(now):\(100 - command.canary),\(version.id):\(command.canary)"
            try await registry.setSplit(
                name: name, ref: "prod", text: text, versions: [now, version.id], why: "colony learn round \(r) canary")
            report.canary = text
        }
        try finish(&report, started: started, dir: dir)
    }

    private func finish(_ report: inout LearnRound, started: Date, dir: String) throws {
        report.seconds = Date().timeIntervalSince(started)
        try write(report, to: (dir as NSString).appendingPathComponent("report.json"))
        writeOut(
            "round \(report.round): \(report.successes)/\(report.attempts) attempts succeeded; "
                + (report.version.map { v in
                    String(
                        format: "%@ held-out pass@1 %.0f%%, general-chat loss %.4f", v, 100 * (report.heldOutPass1 ?? 0),
                        report.generalLoss ?? 0)
                } ?? "no version") + String(format: " (%.0f s)\n", report.seconds))
    }

    /// Greedy successes (one per held-out task, in order) as a success rate per family.
    private func byFamily(_ counts: [Int]) -> [String: Double] {
        let grouped = Dictionary(grouping: zip(heldOut, counts)) { String($0.0.name.prefix { $0 != "-" }) }
        return grouped.mapValues { Double($0.map(\.1).reduce(0, +)) / Double($0.count) }
    }

    private func lastLoss(in log: String) -> Double? {
        guard let text = try? String(contentsOfFile: log, encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n").reversed() {
            if let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], let loss = object["loss"] as? Double
            {
                return loss
            }
        }
        return nil
    }

    /// DIR/report.json (the baseline and every round) and, where matplotlib is installed, DIR/learning.png.
    func summarise() throws {
        struct Summary: Encodable {
            let baseline: LearnBaseline?
            let rounds: [LearnRound]
        }
        var rounds: [LearnRound] = []
        var r = 1
        while let report = read(LearnRound.self, from: path("round-\(r)", "report.json")) {
            rounds.append(report)
            r += 1
        }
        try write(Summary(baseline: read(LearnBaseline.self, from: path("baseline.json")), rounds: rounds), to: path("report.json"))
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../scripts/lib/plot_learn.py")
            .standardized.path
        let plot = Process()
        plot.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        plot.arguments = ["python3", script, path("report.json"), path("learning.png")]
        if (try? plot.run()) != nil {
            plot.waitUntilExit()
            if plot.terminationStatus == 0 { writeOut("wrote \(path("report.json")) and \(path("learning.png"))\n") }
        }
    }
}
