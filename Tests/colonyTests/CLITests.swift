import Foundation
import Testing

/// Runs the real `colony` binary (built next to the test bundle) as a user would.
struct CLI {
    static let binary: URL = {
        // The test runner and the colony executable live in the same build folder.
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("colony")
    }()

    static let tinyModel = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../ColonyModelsTests/Fixtures/tiny-llama-tied.gguf").standardized.path

    struct Result { let status: Int32; let stdout: String; let stderr: String }

    static func run(_ arguments: [String], stdin: String? = nil) throws -> Result {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        let out = Pipe(), err = Pipe(), input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                      stderr: String(decoding: stderr, as: UTF8.self))
    }
}

@Suite("colony command line", .serialized)
struct CLITests {
    let model = ["--model", CLI.tinyModel]

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

    @Test("generate streams the greedy continuation of the reference")
    func generateRaw() throws {
        // Greedy from token 65 (">" in the tiny byte vocabulary) per tiny-forward.json.
        let r = try CLI.run(["generate"] + model + ["--raw", "--prompt", ">", "--temperature", "0", "--max-tokens", "4", "--stats", "--precision", "float32"])
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
        #expect(r.stdout.contains("Model: 2 layers, dim 64"))
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

    @Test("bad input gets an error that names the problem", arguments: [
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
