@testable import ColonyEngine
import Testing

@Suite("JSON recognizer")
struct JSONRecognizerTests {
    static func accepts(_ text: String) -> (ok: Bool, complete: Bool) {
        var r = JSONRecognizer(constraint: .jsonObject)
        let ok = r.accept(Array(text.utf8))
        return (ok, r.isComplete)
    }

    @Test("complete objects", arguments: [
        #"{}"#, #"{"a":1}"#, #"{ "a" : [1, -2.5e+3, 0, true, false, null, "x\"y\\u00e9"], "b": {"c": {}} }"#,
        #"{"emoji":"😀","n":-0.0}"#, "{\n  \"k\": \"v\"\n}", #"{"é":"日本"}"#,
    ])
    func complete(text: String) {
        let r = Self.accepts(text)
        #expect(r.ok && r.complete, "\(text)")
    }

    @Test("valid prefixes are accepted but not complete", arguments: [#"{"#, #"{"a"#, #"{"a": [1, 2"#, #"{"a": 12"#, #"{"a": "x\"#, #"{"a": tr"#])
    func prefixes(text: String) {
        let r = Self.accepts(text)
        #expect(r.ok && !r.complete, "\(text)")
    }

    @Test("invalid bytes are rejected", arguments: [
        #"[1]"#, #"{a:1}"#, #"{"a" 1}"#, #"{"a":01}"#, #"{"a":1,}"#, #"{"a":tru3}"#, #"{"a":"\x"}"#, #"{} {}"#,
        #"{"a":1]"#, "{\"a\":\"\u{01}\"}", "{" + String(repeating: " ", count: 9) + "}", #" {}"#,
    ])
    func invalid(text: String) {
        #expect(!Self.accepts(text).ok, "\(text)")
    }

    @Test("strings must be well-formed UTF-8")
    func utf8() {
        let prefix = Array(#"{"a":""#.utf8)
        for bad: [UInt8] in [[0xFF], [0x80], [0xC3, 0x22], [0xE6, 0x97, 0x41], [0xE0, 0x80], [0xED, 0xA0], [0xF4, 0x90], [0xC0]] {
            var r = JSONRecognizer(constraint: .jsonObject)
            let ok = r.accept(prefix + bad)
            #expect(!ok, "\(bad)")
        }
        var r = JSONRecognizer(constraint: .jsonObject)
        let ok = r.accept(prefix + [0xC3, 0xA9, 0xE6, 0x97, 0xA5] + Array(#""}"#.utf8))
        #expect(ok && r.isComplete)
    }
}
