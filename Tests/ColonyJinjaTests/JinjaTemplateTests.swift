import Foundation
import Testing

@testable import ColonyJinja

@Suite("Jinja interpreter")
struct JinjaTemplateTests {
    struct Case: Decodable {
        let name: String
        let template: String
        let render: String
    }

    static let cases: [Case] = {
        struct File: Decodable { let cases: [Case] }
        let url = Bundle.module.url(forResource: "jinja2-cases", withExtension: "json", subdirectory: "Fixtures")!
        return try! JSONDecoder().decode(File.self, from: Data(contentsOf: url)).cases
    }()

    @Test("each feature renders as Python jinja2 renders it", arguments: cases.map(\.name))
    func feature(_ name: String) throws {
        let c = try #require(Self.cases.first { $0.name == name })
        #expect(try JinjaTemplate(c.template).render(JinjaObject()) == c.render)
    }

    @Test("strftime_now formats the given clock; SOURCE_DATE_EPOCH sets it")
    func clock() throws {
        let now = JinjaTemplate.now(environment: ["SOURCE_DATE_EPOCH": "1767225600"])
        #expect(try JinjaTemplate("{{ strftime_now('%d %b %Y %H:%M') }}").render(JinjaObject(), now: now) == "01 Jan 2026 00:00")
        #expect(JinjaTemplate.now(environment: ["SOURCE_DATE_EPOCH": "soon"]).timeIntervalSince(Date()) > -5)
    }

    @Test("errors: syntax and unsupported constructs name their line; raise_exception keeps its message")
    func errors() {
        #expect(throws: JinjaError.syntax(line: 3, "unexpected end of template: expected 'elif' or 'else' or 'endif'")) {
            try JinjaTemplate("a\nb\n{% if x %}")
        }
        #expect(throws: JinjaError.unsupported(line: 2, "the 'extends' statement")) { try JinjaTemplate("\n{% extends 'base' %}") }
        #expect(throws: JinjaError.raised("bad role: robot")) {
            try JinjaTemplate("{{ raise_exception('bad role: ' + role) }}").render(JinjaObject([("role", .string("robot"))]))
        }
        #expect(throws: JinjaError.undefined("'dict object' has no attribute 'missing'")) {
            try JinjaTemplate("{{ m.missing.x }}").render(JinjaObject([("m", .object(JinjaObject()))]))
        }
        #expect(throws: JinjaError.security("access to attribute 'append' of 'list' object is unsafe.")) {
            try JinjaTemplate("{{ [1].append(2) }}").render(JinjaObject())
        }
        #expect(throws: JinjaError.type("can only concatenate str (not \"NoneType\") to str")) {
            try JinjaTemplate("{{ 'a' + none }}").render(JinjaObject())
        }
        #expect(JinjaError.unsupported(line: 4, "the filter 'frob'").description == "template line 4: the filter 'frob' is not supported")
    }

    @Test("JSON input keeps key order; dumps matches Python's json.dumps")
    func json() throws {
        let v = try JinjaJSON.parse(#"{"z": 1, "a": [true, null, 1.5e3, "\u00e9\ud83d\ude00"], "m": {}}"#)
        #expect(try JinjaJSON.dumps(v) == #"{"z": 1, "a": [true, null, 1500.0, "é😀"], "m": {}}"#)
        #expect(
            try JinjaJSON.dumps(v, sortKeys: true, ensureASCII: true)
                == #"{"a": [true, null, 1500.0, "\u00e9\ud83d\ude00"], "m": {}, "z": 1}"#)
        #expect(throws: JinjaError.self) { try JinjaJSON.parse("[1,") }
    }
}
