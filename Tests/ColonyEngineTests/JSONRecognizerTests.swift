import Foundation
import Testing

@testable import ColonyEngine

@Suite("JSON recognizer")
struct JSONRecognizerTests {
    static func accepts(_ text: String) -> (ok: Bool, complete: Bool) {
        var r = JSONRecognizer(constraint: .jsonObject)
        let ok = r.accept(Array(text.utf8))
        return (ok, r.isComplete)
    }

    @Test(
        "complete objects",
        arguments: [
            #"{}"#, #"{"a":1}"#, #"{ "a" : [1, -2.5e+3, 0, true, false, null, "x\"y\\u00e9"], "b": {"c": {}} }"#,
            #"{"emoji":"😀","n":-0.0}"#, "{\n  \"k\": \"v\"\n}", #"{"é":"日本"}"#,
        ])
    func complete(text: String) {
        let r = Self.accepts(text)
        #expect(r.ok && r.complete, "\(text)")
    }

    @Test(
        "valid prefixes are accepted but not complete",
        arguments: [#"{"#, #"{"a"#, #"{"a": [1, 2"#, #"{"a": 12"#, #"{"a": "x\"#, #"{"a": tr"#])
    func prefixes(text: String) {
        let r = Self.accepts(text)
        #expect(r.ok && !r.complete, "\(text)")
    }

    @Test(
        "invalid bytes are rejected",
        arguments: [
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

    static func schema(_ json: String) throws -> JSONSchema {
        try JSONSchema(json: try JSONSerialization.jsonObject(with: Data(json.utf8)))
    }

    static func accepts(_ text: String, _ schema: JSONSchema) -> (ok: Bool, complete: Bool) {
        var r = JSONRecognizer(constraint: .jsonSchema(schema))
        let ok = r.accept(Array(text.utf8))
        return (ok, r.isComplete)
    }

    @Test("a schema fixes keys, their order and the value types")
    func schemaObjects() throws {
        let person = try Self.schema(
            #"{"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"},"tags":{"type":"array","items":{"enum":["a","bc"]}},"ok":{"type":"boolean"}},"required":["name"]}"#
        )
        let good = Self.accepts(#"{"age":31,"name":"Ann","ok":true,"tags":["bc","a"]}"#, person)
        #expect(good.ok && good.complete)
        #expect(!Self.accepts(#"{"age": 31"#, person).ok, "schema output is compact")
        for bad in [
            #"{"name":"Ann"}"#, #"{"age":3.5,"#, #"{"age":31,"name":"Ann","ok":1"#, #"{"age":1,"name":"x","ok":false,"tags":["b"]"#,
            #"{"zzz":1"#,
        ] {
            let r = Self.accepts(bad, person)
            #expect(!(r.ok && r.complete), "\(bad)")
        }
        #expect(!Self.accepts(#"{"age":1,"name":"x","ok":false,"tags":["b"]"#, person).ok)
        #expect(Self.accepts(#"{"age":-0,"name":"x","ok":false,"tags":[]}"#, person).complete)
    }

    @Test("tool calls pick a tool, then follow that tool's parameters")
    func toolCalls() throws {
        let tools = JSONSchema.toolCall([
            .init(
                name: "add", parameters: try Self.schema(#"{"type":"object","properties":{"a":{"type":"number"},"b":{"type":"number"}}}"#)),
            .init(name: "echo", parameters: try Self.schema(#"{"type":"object","properties":{"text":{"type":"string"}}}"#)),
        ])
        #expect(Self.accepts(#"{"name":"add","arguments":{"a":1,"b":2.5}}"#, tools).complete)
        #expect(Self.accepts(#"{"name":"echo","arguments":{"text":"hi"}}"#, tools).complete)
        #expect(!Self.accepts(#"{"name":"echo","arguments":{"a":1"#, tools).ok)
        #expect(!Self.accepts(#"{"name":"mul""#, tools).ok)
    }

    @Test("unsupported schema keywords are refused by name")
    func unsupported() throws {
        #expect(
            throws: JSONSchema.Unsupported(
                description:
                    "schema uses 'anyOf', which constrained decoding does not support; supported: type, properties, items, enum, const")
        ) {
            try Self.schema(#"{"anyOf":[{"type":"string"}]}"#)
        }
        #expect(
            throws: JSONSchema.Unsupported(
                description: "schema.properties.x has type 'date'; supported: object, array, string, number, integer, boolean, null")
        ) {
            try Self.schema(#"{"type":"object","properties":{"x":{"type":"date"}}}"#)
        }
        #expect(try Self.schema(#"{"enum":["x",1,true,null]}"#) == .oneOf(["\"x\"", "1", "true", "null"]))
    }
}
