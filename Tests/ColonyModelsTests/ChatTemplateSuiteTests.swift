import ColonyJinja
import Foundation
import Testing

/// The real chat templates in llama.cpp's `models/templates/` (fetched with its sources by
/// `scripts/fetch-vocab-tests`, not committed), rendered by Colony's Jinja interpreter and
/// compared with Python `jinja2`'s renders under Hugging Face's `apply_chat_template`
/// settings (`Fixtures/chat-templates/renders.json`, made by
/// `scripts/render-templates-reference`): byte for byte, or the same error message.
@Suite("real chat templates against Python jinja2")
struct ChatTemplateSuiteTests {
    static let templates = VocabularySuiteTests.models.appendingPathComponent("templates")

    struct Expected {
        var text: String?
        var error: String?
        var kind: String?
    }

    static func expectations() throws -> (epoch: Int, [String: [String: Expected]]) {
        let data = try Data(contentsOf: Fixtures.url("chat-templates/renders.json"))
        let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let renders = try #require(root["renders"] as? [String: [String: [String: String]]])
        let epoch = try #require(root["source_date_epoch"] as? Int)
        return (epoch, renders.mapValues { $0.mapValues { Expected(text: $0["text"], error: $0["error"], kind: $0["kind"]) } })
    }

    static func conversations() throws -> JinjaObject {
        let text = try String(contentsOf: Fixtures.url("chat-templates/conversations.json"), encoding: .utf8)
        guard case .object(let o) = try JinjaJSON.parse(text) else { throw JinjaError.type("conversations.json is not an object") }
        return o
    }

    @Test("every template renders each conversation as jinja2 does, or fails with its message")
    func renders() throws {
        let (epoch, expected) = try Self.expectations()
        let conversations = try Self.conversations()
        #expect(expected.count >= 60, "the fixture covers llama.cpp's templates")
        let now = Date(timeIntervalSince1970: TimeInterval(epoch))
        var mismatches: [String] = []
        var checked = 0
        for (file, cases) in expected.sorted(by: { $0.key < $1.key }) {
            let path = Self.templates.appendingPathComponent(file).path
            try #require(FileManager.default.fileExists(atPath: path), "missing \(path): run ./scripts/fetch-vocab-tests")
            let source = try String(contentsOfFile: path, encoding: .utf8)
            for (name, want) in cases.sorted(by: { $0.key < $1.key }) {
                guard case .object(let context)? = conversations[name] else {
                    Issue.record("renders.json names conversation '\(name)', which conversations.json lacks")
                    continue
                }
                checked += 1
                var got: String
                do {
                    got = try JinjaTemplate(source).render(context, now: now)
                } catch {
                    if want.error == error.message { continue }
                    mismatches.append(
                        "\(file) / \(name): raised \(error.kind): \(error.description); jinja2 \(want.error.map { "raised \(want.kind ?? ""): \($0)" } ?? "rendered")"
                    )
                    continue
                }
                if got == want.text { continue }
                if let text = want.text {
                    let a = Array(got.unicodeScalars)
                    let b = Array(text.unicodeScalars)
                    let at = zip(a, b).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(a.count, b.count)
                    let around = { (s: [Unicode.Scalar]) in
                        String(String.UnicodeScalarView(s[max(0, at - 40)..<min(s.count, at + 40)])).debugDescription
                    }
                    mismatches.append("\(file) / \(name): differs at \(at): got \(around(a)), want \(around(b))")
                } else {
                    mismatches.append("\(file) / \(name): rendered, but jinja2 raised \(want.kind ?? ""): \(want.error ?? "")")
                }
            }
        }
        #expect(checked >= 400)
        #expect(mismatches.isEmpty, "\(mismatches.count) of \(checked) differ:\n\(mismatches.joined(separator: "\n"))")
    }
}
