import ColonyStore
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Runs the real `colony` binary (built next to the test bundle) as a user would.
struct CLI {
    static let binary: URL = {
        // The test runner and the colony executable live in the same build folder.
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("colony")
    }()

    static let tinyModel = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../ColonyModelsTests/Fixtures/tiny-llama-tied.gguf").standardized.path

    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    /// Polls until something accepts TCP connections on 127.0.0.1:`port` (up to 30 s).
    static func waitForPort(_ port: Int) -> Bool {
        for _ in 0..<300 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = in_port_t(UInt16(port).bigEndian)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            let ok =
                withUnsafePointer(to: &addr) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                } == 0
            close(fd)
            if ok { return true }
            Thread.sleep(forTimeInterval: 0.1)
        }
        return false
    }

    /// Runs colony (or `executable`, e.g. mpirun, with colony among `arguments`).
    static func run(
        _ arguments: [String], stdin: String? = nil, executable: String? = nil,
        environment: [String: String] = [:]
    ) throws -> Result {
        let process = Process()
        process.executableURL = executable.map { URL(fileURLWithPath: $0) } ?? binary
        process.arguments = arguments
        if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new } }
        let out = Pipe()
        let err = Pipe()
        let input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
            stderr: String(decoding: stderr, as: UTF8.self))
    }
}

@Suite("colony command line", .serialized)
struct CLITests {
    let model = ["--model", CLI.tinyModel]

    @Test("template render prints exactly the render; raise_exception exits 1 with its message; bad templates name the line")
    func templateRender() throws {
        let dir = NSTemporaryDirectory() + "colony-template-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let template = dir + "/t.jinja"
        try """
        {%- if messages[0].role == 'system' %}{{ raise_exception('No system messages, ' ~ bos_token) }}{% endif %}
        {%- for k, v in extra.items() %}{{ k }}={{ v | tojson }};{% endfor %}
        {{- messages[0].content }}|{{ strftime_now('%Y-%m-%d') }}
        """.write(toFile: template, atomically: true, encoding: .utf8)
        let input = dir + "/in.json"
        try #"{"messages": [{"role": "user", "content": "héllo"}], "extra": {"zeta": "日本", "alpha": [1, 2.5]}, "bos_token": "<s>"}"#
            .write(toFile: input, atomically: true, encoding: .utf8)
        let ok = try CLI.run(
            ["template", "render", "--template", template, "--input", input], environment: ["SOURCE_DATE_EPOCH": "1767225600"])
        #expect(ok.status == 0)
        #expect(ok.stdout == #"zeta="日本";alpha=[1, 2.5];héllo|2026-01-01"#)

        try #"{"messages": [{"role": "system", "content": "x"}], "bos_token": "<s>"}"#.write(
            toFile: input, atomically: true, encoding: .utf8)
        let raised = try CLI.run(["template", "render", "--template", template, "--input", input])
        #expect(raised.status == 1)
        #expect(raised.stdout.isEmpty)
        #expect(raised.stderr == "No system messages, <s>\n")

        try "ok\n{% include 'other.jinja' %}".write(toFile: template, atomically: true, encoding: .utf8)
        let unsupported = try CLI.run(["template", "render", "--template", template, "--input", input])
        #expect(unsupported.status != 0)
        #expect(unsupported.stderr.contains("template line 2: the 'include' statement is not supported"))

        try "[1,".write(toFile: input, atomically: true, encoding: .utf8)
        let badInput = try CLI.run(["template", "render", "--template", "chatml", "--input", input])
        #expect(badInput.status != 0)
        #expect(badInput.stderr.contains("is not valid JSON"))
    }

    @Test("tokenize prints JSON ids and detokenize reverses them")
    func tokenizeRoundTrip() throws {
        let text = "<|im_start|>user\nthe cat 42<|im_end|>"
        let t = try CLI.run(["tokenize"] + model + [text])
        #expect(t.status == 0)
        let ids = try JSONDecoder().decode([Int].self, from: Data(t.stdout.utf8))
        #expect(ids.first == 1 && ids.last == 2)
        let d = try CLI.run(["detokenize"] + model + [t.stdout])
        #expect(d.status == 0)
        #expect(d.stdout == text + "\n")
    }

    @Test("tokenize reads llama.cpp's vocabulary-only files: BOS as the metadata asks, special tokens parsed unless told")
    func tokenizeVocabularyFiles() throws {
        let models = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../.build-llamacpp/src/llama_cpp_python-0.3.36/vendor/llama.cpp/models").standardized
        func ids(_ vocabulary: String, _ arguments: [String]) throws -> [Int] {
            let path = models.appendingPathComponent("ggml-vocab-\(vocabulary).gguf").path
            try #require(FileManager.default.fileExists(atPath: path), "missing \(path): run ./scripts/fetch-vocab-tests")
            let r = try CLI.run(["tokenize", "--model", path] + arguments)
            try #require(r.status == 0, "\(r.stderr)")
            return try JSONDecoder().decode([Int].self, from: Data(r.stdout.utf8))
        }
        // Llama 3: BOS 128000 by its pre-tokenizer's default, "Hello" 9906, " world" 1917.
        #expect(try ids("llama-bpe", ["Hello world"]) == [128_000, 9906, 1917])
        #expect(try ids("llama-bpe", ["--no-bos", "Hello world"]) == [9906, 1917])
        // Qwen2: no BOS; <|im_end|> is 151645 unless special tokens are plain text.
        #expect(try ids("qwen2", ["Hello world<|im_end|>"]) == [9707, 1879, 151_645])
        #expect(try ids("qwen2", ["--no-special", "<|im_end|>"]).count > 1)
        // Llama 2 (SentencePiece): BOS 1, "▁Hello" 15043, "▁world" 3186.
        #expect(try ids("llama-spm", ["Hello world"]) == [1, 15043, 3186])
        let bert = try CLI.run(["tokenize", "--model", models.appendingPathComponent("ggml-vocab-bert-bge.gguf").path, "x"])
        #expect(bert.status != 0)
        #expect(bert.stderr.contains("unsupported tokenizer model 'bert'"))
    }

    @Test("generate streams the greedy continuation of the reference")
    func generateRaw() throws {
        // Greedy from token 65 (">" in the tiny byte vocabulary) per tiny-forward.json.
        let r = try CLI.run(
            ["generate"] + model + [
                "--raw", "--prompt", ">", "--temperature", "0", "--max-tokens", "4", "--stats", "--precision", "float32",
            ])
        #expect(r.status == 0)
        let expected = try CLI.run(["detokenize"] + model + ["[28, 107, 107, 107]"]).stdout
        #expect(r.stdout == expected)
        #expect(r.stderr.contains("generated 4 tokens"))
    }

    @Test("chat keeps the conversation across turns")
    func chat() throws {
        let r = try CLI.run(["chat"] + model + ["--temperature", "0", "--max-tokens", "3"], stdin: "hello\n/reset\nagain\n/exit\n")
        #expect(r.status == 0)
        #expect(r.stdout.split(separator: "\n", omittingEmptySubsequences: false).count >= 2)
        #expect(r.stderr.contains("(conversation cleared)"))
    }

    @Test("inspect shows metadata and tensors")
    func inspect() throws {
        let r = try CLI.run(["inspect"] + model)
        #expect(r.status == 0)
        #expect(r.stdout.contains("general.architecture"))
        #expect(r.stdout.contains("blk.0.attn_q.weight"))
        #expect(r.stdout.contains("Model: llama, 2 layers, dim 64, 4 heads of 16 (2 KV)"))
    }

    @Test("bench --json reports speeds and the roofline")
    func bench() throws {
        let r = try CLI.run(["bench"] + model + ["--prompt-tokens", "8", "--gen-tokens", "4", "--runs", "1", "--threads", "1", "--json"])
        #expect(r.status == 0)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        for key in ["prefill_tokens_per_second", "decode_tokens_per_second", "roofline_decode_tokens_per_second", "peak_rss_bytes"] {
            #expect((json[key] as? Double ?? 0) > 0, "\(key)")
        }
    }

    @Test(
        "bad input gets an error that names the problem",
        arguments: [
            (["generate", "--prompt", "x", "--max-tokens", "0"], "--max-tokens must be > 0, got 0"),
            (["generate", "--prompt", "x", "--temperature=-1"], "temperature must be ≥ 0"),
            (["generate", "--prompt", "x", "--chat-template", "vicuna"], "unknown chat template 'vicuna'; known: chatml, llama3, gemma"),
            (["generate", "--prompt", "x", "--precision", "fp8"], "--precision must be one of float32, int16, int8"),
            (["detokenize", "1", "99999"], "token id 99999 is outside the vocabulary 0..<320"),
            (["bench", "--runs", "0"], "--runs must be between 1 and 100"),
        ])
    func badInput(arguments: [String], message: String) throws {
        let r = try CLI.run([arguments[0]] + model + Array(arguments.dropFirst()))
        #expect(r.status != 0)
        #expect(r.stderr.contains(message), "stderr: \(r.stderr)")
    }

    @Test("a missing model file says how to get one")
    func missingModel() throws {
        let r = try CLI.run(["generate", "--model", "/nonexistent.gguf", "--prompt", "x"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("model file '/nonexistent.gguf' not found"))
        let notGGUF = try CLI.run(["inspect", "--model", #filePath])
        #expect(notGGUF.status != 0)
        #expect(notGGUF.stderr.contains("is not a GGUF file"))
    }
}

@Suite(
    "colony agents: durable runs", .serialized,
    .enabled(
        if: FileManager.default.fileExists(atPath: "models/SmolLM2-135M-Instruct.Q4_1.gguf"), "needs the real model: run ./scripts/setup"))
struct AgentCLITests {
    /// The completed steps of `colony agents show` output, one text block each.
    static func steps(_ show: String) -> [String] {
        let body = show.components(separatedBy: "\nanswer:")[0]
        return body.components(separatedBy: "\nstep ").dropFirst().map { "step " + $0 }.filter { !$0.contains("interrupted") }
    }

    @Test("kill -9 during a run, then resume: no completed step is repeated or lost")
    func killAndResume() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("colony-agents-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let spec = dir.appendingPathComponent("math.yaml")
        try
            "name: math\ninstructions: Use the calculator, then give the final answer.\ntools: [calculator]\nmax_steps: 8\nmax_tokens_per_step: 64\n"
            .write(to: spec, atomically: true, encoding: .utf8)
        let db = dir.appendingPathComponent("db.sqlite").path
        let process = Process()
        process.executableURL = CLI.binary
        process.arguments = [
            "agents", "run", "--spec", spec.path, "--task", "What is 17 * 23?", "--db", db, "--run-id", "victim", "--threads", "1",
        ]
        let log = dir.appendingPathComponent("run.log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: log)
        try process.run()
        // Wait (reading the database in-process: cheap, and WAL readers never block the
        // writer) until a step is stored, then kill without warning.
        var store: SQLiteStore?
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline, process.isRunning {
            try await Task.sleep(for: .milliseconds(50))
            if store == nil, FileManager.default.fileExists(atPath: db) { store = try? SQLiteStore(path: db) }
            if let store, let steps = try? await store.steps(runID: "victim"), !steps.isEmpty { break }
        }
        let exited = !process.isRunning
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let killed = try CLI.run(["agents", "show", "victim", "--db", db])
        let kept = Self.steps(killed.stdout)
        try #require(
            !kept.isEmpty,
            "the run stored a step before it was killed (exited early: \(exited)); its log: \(String(decoding: FileManager.default.contents(atPath: log.path) ?? Data(), as: UTF8.self))"
        )

        let resumed = try CLI.run(["agents", "resume", "victim", "--db", db, "--threads", "1"])
        if killed.stdout.contains("math, running") {
            #expect(resumed.status == 0, "\(resumed.stderr)")
        } else {
            #expect(resumed.stderr.contains("already ended"))  // it finished before the kill landed
        }
        let after = Self.steps(try CLI.run(["agents", "show", "victim", "--db", db]).stdout)
        #expect(Array(after.prefix(kept.count)) == kept, "completed steps are kept as they were")
        let numbers = after.compactMap { Int($0.dropFirst(5).prefix { $0.isNumber }) }
        #expect(numbers == Array(1...numbers.count), "steps are numbered without gaps or repeats: \(numbers)")
    }

    @Test("a swarm of agents runs through an OpenAI-compatible endpoint (colony serve)")
    func swarmOverHTTP() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("colony-swarm-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let spec = dir.appendingPathComponent("math.yaml")
        try
            "name: math\ninstructions: Use the calculator, then give the final answer.\ntools: [calculator]\nmax_steps: 3\nmax_tokens_per_step: 64\n"
            .write(to: spec, atomically: true, encoding: .utf8)
        let tasks = dir.appendingPathComponent("tasks.jsonl")
        try (0..<6).map { #"{"task":"What is \#($0) + 2?","expected":"\#($0 + 2)"}"# }.joined(separator: "\n").write(
            to: tasks, atomically: true, encoding: .utf8)
        let port = 18_000 + Int.random(in: 0..<2000)
        let server = Process()
        server.executableURL = CLI.binary
        server.arguments = ["serve", "--port", String(port), "--model-name", "smol"]
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer {
            server.terminate()
            server.waitUntilExit()
        }
        try #require(CLI.waitForPort(port), "colony serve did not start listening")
        let r = try CLI.run([
            "agents", "swarm", "--spec", spec.path, "--tasks", tasks.path, "--agents", "6",
            "--endpoint", "http://127.0.0.1:\(port)", "--endpoint-model", "smol", "--db", dir.appendingPathComponent("db.sqlite").path,
        ])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("runs            6 (0 failed), 6 agents at once"), "\(r.stdout)")
        #expect(r.stdout.contains("success         "))
        #expect(r.stderr.contains("6/6 runs"))
        let bad = try CLI.run([
            "agents", "swarm", "--spec", spec.path, "--tasks", spec.path, "--db", dir.appendingPathComponent("db.sqlite").path,
        ])
        #expect(bad.stderr.contains("math.yaml:1: expected {\"task\""), "\(bad.stderr)")
    }

    @Test("bench agents replays the agents' requests on the engine alone and reports the ratio")
    func benchAgents() throws {
        let r = try CLI.run(["bench", "agents", "--agents", "3", "--tasks", "3", "--max-steps", "2", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect(json["same_requests_as_recorded"] as? Bool == true, "greedy agents must repeat their requests")
        let steps = try #require(json["agent_steps"] as? Int)
        #expect(steps >= 3 && steps == json["engine_requests"] as? Int)
        #expect((json["agent_share_of_engine"] as? Double ?? 0) > 0)
        #expect((json["runtime_ms_per_step"] as? Double ?? 0) > 0)
    }

    @Test("an agent spec's MCP server is started and its tools offered to the model")
    func mcpFromSpec() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("colony-mcp-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let server = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("ColonyAgentsTests/Fixtures/mcp_server.py").path
        let spec = dir.appendingPathComponent("mcp.yaml")
        try """
        name: adder
        instructions: Use calc.add to add numbers, then give the final answer.
        max_steps: 2
        mcp_servers:
          - name: calc
            command: [python3, \(server)]
        """.write(to: spec, atomically: true, encoding: .utf8)
        let db = dir.appendingPathComponent("db.sqlite").path
        let r = try CLI.run(["agents", "run", "--spec", spec.path, "--task", "What is 20 + 22?", "--db", db, "--run-id", "mcp1"])
        #expect(r.status == 0, "\(r.stderr)")
        // The MCP tools are described in the prompt: the same agent without the server sees a shorter one.
        let plain = dir.appendingPathComponent("plain.yaml")
        try "name: adder\ninstructions: Use calc.add to add numbers, then give the final answer.\nmax_steps: 2\n".write(
            to: plain, atomically: true, encoding: .utf8)
        let r2 = try CLI.run(["agents", "run", "--spec", plain.path, "--task", "What is 20 + 22?", "--db", db, "--run-id", "plain1"])
        #expect(r2.status == 0, "\(r2.stderr)")
        func firstPrompt(_ run: String) throws -> Int? {
            let show = try CLI.run(["agents", "show", run, "--db", db]).stdout
            return show.components(separatedBy: "step 1 (").dropFirst().first?.split(separator: " ").first.flatMap { Int($0) }
        }
        let withMCP = try #require(try firstPrompt("mcp1"))
        let without = try #require(try firstPrompt("plain1"))
        #expect(withMCP > without + 20, "prompt tokens with the MCP server's tools \(withMCP), without \(without)")
        let broken = dir.appendingPathComponent("broken.yaml")
        try "name: b\ninstructions: x\nmcp_servers:\n  - name: gone\n    command: [colony-no-such-server]\n".write(
            to: broken, atomically: true, encoding: .utf8)
        let failed = try CLI.run(["agents", "run", "--spec", broken.path, "--task", "x", "--db", db])
        #expect(failed.status != 0)
        #expect(failed.stderr.contains("MCP server 'gone'"), "\(failed.stderr)")
    }

    @Test("invalid specs name the field")
    func badSpec() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("bad-\(UUID().uuidString).yaml").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        for (yaml, message) in [
            ("name: x\ninstructions: y\ntools: [teleport]\n", "field 'tools' lists unknown tool 'teleport'"),
            ("name: x\ninstructions: y\nmax_steps: 0\n", "field 'max_steps' must be between 1 and 100, got 0"),
            ("name: x\n", "missing field 'instructions'"),
            ("name: x\ninstructions: y\nmax_steps: many\n", "field 'max_steps' must be"),
        ] {
            try yaml.write(toFile: path, atomically: true, encoding: .utf8)
            let r = try CLI.run(["agents", "run", "--spec", path, "--task", "t", "--db", path + ".db"])
            #expect(r.status != 0)
            #expect(r.stderr.contains(message), "\(r.stderr)")
            try? FileManager.default.removeItem(atPath: path + ".db")
        }
    }
}
