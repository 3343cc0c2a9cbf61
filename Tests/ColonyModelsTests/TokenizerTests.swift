import ColonyModels
import Testing

@Suite("Byte-level BPE tokenizer")
struct TokenizerTests {
    static let tiny = try! Tokenizer(gguf: GGUFFile(contentsOf: Fixtures.path("tiny-llama-tied.gguf")))

    @Test("tiny vocabulary: ids equal the reference tokenizer's and decode round-trips")
    func tinyFixture() throws {
        let cases = try Fixtures.load("tokenizer-tiny.json", as: Fixtures.TokenizerCases.self).cases
        #expect(cases.count >= 5)
        for c in cases {
            #expect(Self.tiny.encode(c.text) == c.ids, "\(c.text.debugDescription)")
            #expect(Self.tiny.decode(c.ids) == c.text)
        }
    }

    @Test(
        "SmolLM2 vocabulary: ids equal HF tokenizers' on hard text",
        .enabled(if: Fixtures.realModelPath != nil, "needs the real model: run ./scripts/setup"))
    func smolFixture() throws {
        let tokenizer = try Tokenizer(gguf: GGUFFile(contentsOf: Fixtures.realModelPath!))
        let cases = try Fixtures.load("tokenizer-smollm2.json", as: Fixtures.TokenizerCases.self).cases
        #expect(cases.count >= 30)
        for c in cases {
            #expect(tokenizer.encode(c.text) == c.ids, "\(c.text.debugDescription)")
            #expect(tokenizer.decode(c.ids) == c.text, "\(c.text.debugDescription)")
        }
    }

    @Test("special tokens are parsed only when asked")
    func specialTokens() {
        let text = "<|im_start|>user\nhi<|im_end|>"
        let parsed = Self.tiny.encode(text)
        #expect(parsed.first == 1 && parsed.last == 2)
        let plain = Self.tiny.encode(text, parseSpecial: false)
        #expect(!plain.contains(1) && !plain.contains(2))
        #expect(Self.tiny.decode(plain) == text)
        #expect(Self.tiny.isControl(2) && !Self.tiny.isControl(100))
    }

    @Test(
        "round trip of Chinese, emoji, tabs, spaces and newlines",
        arguments: [
            "你好，世界", "👩‍👩‍👧‍👦 🇫🇷 ✨", "\tindent\t\ttabs", "a    b     c", "\n\n\nend\n", "  lead and trail  ",
            "naïve café Ωμέγα", "mixed 123 and ٣٤٥", "",
        ])
    func roundTrip(text: String) {
        #expect(Self.tiny.decode(Self.tiny.encode(text)) == text)
    }

    @Test("pre-tokenizer splits like GPT-2's pattern with isolated digits")
    func preTokenizer() {
        let smollm = try! #require(PreTokenizer(ggmlName: "smollm"))
        let split = smollm.split("Hello  world's 123 x\n\n y")
        #expect(split == ["Hello", " ", " world", "'s", " ", "1", "2", "3", " x", "\n\n", " y"])
        #expect(PreTokenizer.gpt2.split("it's 2024!!") == ["it", "'s", " 2024", "!!"])
        #expect(PreTokenizer(ggmlName: "made-up") == nil)
    }

    @Test("the streaming detokenizer never emits half a character")
    func streaming() {
        let text = "héllo 你好 👩‍👩‍👧 done"
        let ids = Self.tiny.encode(text)
        var detok = StreamingDetokenizer(tokenizer: Self.tiny)
        var pieces: [String] = []
        for id in ids { pieces.append(detok.append(id)) }
        pieces.append(detok.flush())
        #expect(pieces.joined() == text)
        #expect(!pieces.joined().contains("\u{FFFD}"))
        // The tiny vocabulary has one token per byte (id 3 + byte): the three bytes of "你"
        // arrive one at a time and nothing shows until the last.
        var d2 = StreamingDetokenizer(tokenizer: Self.tiny)
        let byteIds = Array("你".utf8).map { 3 + Int($0) }
        #expect(d2.append(byteIds[0]) == "")
        #expect(d2.append(byteIds[1]) == "")
        #expect(d2.append(byteIds[2]) == "你")
    }

    @Test("unsupported tokenizers are rejected by name")
    func errors() throws {
        #expect(throws: ModelError.invalidTokenizer("the vocabulary is empty")) {
            try Tokenizer(tokens: [], types: [], merges: [], preTokenizer: .gpt2)
        }
        #expect(throws: ModelError.invalidTokenizer("eos token id 5 is outside the vocabulary of 1")) {
            try Tokenizer(tokens: ["a"], types: [], merges: [], preTokenizer: .gpt2, eosToken: 5)
        }
    }
}
