import ArgumentParser
import ColonyAgents
import ColonyBench
import ColonyEngine
import ColonyModels
import ColonyRegistry
import ColonyServer
import ColonyStore
import Foundation

/// What `colony learn` holds across rounds: the registry, the in-process server that runs
/// NAME's versions (prod, its split, the gate), the task sets and the stored attempts.
final class LearningLoop: @unchecked Sendable {
    let command: Learn
    let registry: Registry
    let name: String
    let base: (id: String, path: String)
    let engine: Engine
    let template: ChatTemplate
    let config: LlamaConfiguration
    let catalog: RegistryCatalog
    let url: String
    let store: AnyStore
    let attempts: AttemptLog
    let train: [SuiteTask]
    let heldOut: [SuiteTask]
    /// The tools of the MCP servers the families need (`units`: this binary's `colony mcp`).
    let toolServers: [String: [any Tool]]
    private let mcp: MCPServer?
    private let server: Task<Void, Error>

    /// This binary, for its subcommands (training, evaluation, the MCP server).
    static var binary: String { Bundle.main.executablePath ?? CommandLine.arguments[0] }

    init(command: Learn) async throws {
        self.command = command
        let resolved = command.modelOptions.resolved!
        registry = try RegistryOptions.open(store: nil, registry: nil)
        name = resolved.name
        base = (resolved.base, resolved.path)
        let (model, tokenizer) = try command.modelOptions.loadModel(adapters: true)
        template = try ChatTemplate(gguf: model.file)
        config = model.config
        var configuration = EngineConfiguration()
        configuration.maxBatch = 8
        engine = try Engine(model: model, tokenizer: tokenizer, configuration: configuration)
        catalog = RegistryCatalog(registry: registry, name: name, base: base.id, baseConfig: model.config, gate: command.gateOptions.gate)
        var server = OpenAIServer(engine: engine, modelName: name, template: template)
        server.toolFormat = TemplateOptions.toolFormat(gguf: model.file)
        server.catalog = catalog
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let running = server
        self.server = Task { try await running.run(host: "127.0.0.1", port: 0) { continuation.yield($0) } }
        var port = 0
        for await p in ports {
            port = p
            break
        }
        url = "http://127.0.0.1:\(port)"
        store = try StoreLocation.open((command.out as NSString).appendingPathComponent("agents.sqlite"))
        attempts = AttemptLog(path: (command.out as NSString).appendingPathComponent("attempts.jsonl"))
        let generator = TaskGenerator(seed: command.seed)
        train = generator.tasks(.train, perFamily: command.trainTasks, families: command.taskFamilies)
        heldOut = generator.tasks(.heldOut, perFamily: command.heldOut, families: command.taskFamilies)
        if command.taskFamilies.contains(.units) {
            let mcp = try await MCPServer.launch(
                MCPServerConfiguration(name: TaskGenerator.unitsServer, command: [Self.binary, "mcp", "--tools", UnitsTool().name]))
            self.mcp = mcp
            toolServers = [TaskGenerator.unitsServer: try await mcp.tools()]
        } else {
            mcp = nil
            toolServers = [:]
        }
    }

    /// Throws when the MCP server died: its tools would fail every attempt, and those
    /// failures must not be stored as the model's (the rerun continues with a new server).
    func checkToolServers() async throws {
        if let mcp, await !mcp.isRunning {
            throw ValidationError("the units MCP server (colony mcp) exited; run the same command again to continue")
        }
    }

    func stop() async {
        server.cancel()
        await mcp?.shutdown()
    }

    func path(_ parts: String...) -> String { parts.reduce(command.out) { ($0 as NSString).appendingPathComponent($1) } }

    /// The version NAME@prod points at now.
    func serving() async throws -> String {
        guard let id = try await registry.store.refs(name: name)["prod"] else {
            throw ValidationError("\(name)@prod is not set; promote a version first (colony models promote \(name) ID)")
        }
        return id
    }

    /// Per task, how many of `tries` attempts of one version succeeded, in process (no
    /// feedback: evaluation is not traffic): one greedy try, or `tries` sampled ones.
    func solved(_ tasks: [SuiteTask], adapter: LoRAWeights?, tries: Int, label: String) async throws -> [Int] {
        let client = EngineClient(engine: engine, template: template, adapter: adapter)
        var counts: [Int] = []
        for (i, task) in tasks.enumerated() {
            writeErr(ProgressBar(width: 24).line(i, of: tasks.count, "\(label): \(counts.filter { $0 > 0 }.count)/\(i) solved"))
            var count = 0
            for t in 0..<tries {
                var sampling = SamplingParameters.greedy
                if tries > 1 {
                    sampling.temperature = command.temperature
                    sampling.seed = UInt64(t + 1) &* 0x9E37_79B9 &+ UInt64(i)
                }
                let result = try await TaskSuite.run(
                    task, client: client, store: store, maxSteps: command.maxSteps, sampling: sampling, servers: toolServers)
                try await checkToolServers()
                count += Int(result.reward)
            }
            counts.append(count)
        }
        writeErr(
            ProgressBar(width: 24).line(tasks.count, of: tasks.count, "\(label): \(counts.filter { $0 > 0 }.count)/\(tasks.count) solved")
                + "\n")
        return counts
    }

    /// Runs this binary with `arguments`; its stderr passes through, its stdout is returned.
    func colony(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw ValidationError(
                "colony \(arguments.prefix(1).joined()) failed (exit \(process.terminationStatus)); see its messages above")
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// The mean loss `colony eval` reports for `model` on the general-chat conversations.
    func generalLoss(model: String) throws -> Double {
        let out = try colony(["eval", "--model", model, "--data", path("general.jsonl"), "--seq-len", "\(command.seqLen)"])
        guard let match = out.firstMatch(of: /loss ([0-9.]+)/), let loss = Double(match.1) else {
            throw ValidationError("colony eval printed no loss: \(out)")
        }
        return loss
    }

    /// Writes `value` as pretty JSON, atomically (a killed run leaves the old file or none).
    func write(_ value: some Encodable, to file: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try encoder.encode(value).write(to: URL(fileURLWithPath: file), options: .atomic)
    }

    func read<T: Decodable>(_ type: T.Type, from file: String) -> T? {
        FileManager.default.contents(atPath: file).flatMap { try? JSONDecoder().decode(T.self, from: $0) }
    }
}
