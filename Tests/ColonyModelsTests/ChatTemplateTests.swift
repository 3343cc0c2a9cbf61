import ColonyJinja
import ColonyModels
import Foundation
import Testing

@Suite("Chat templates")
struct ChatTemplateTests {
    static let smolTemplate = try! ChatTemplate(gguf: GGUFFile(contentsOf: Fixtures.path("tiny-llama-tied.gguf")))

    @Test("the model's own Jinja template renders what HF transformers renders")
    func chatmlFixture() throws {
        let cases = try Fixtures.load("chat-smollm2.json", as: Fixtures.ChatCases.self).cases
        #expect(cases.count >= 3)
        for c in cases {
            #expect(try Self.smolTemplate.render(c.messages, addGenerationPrompt: c.addGenerationPrompt) == c.prompt)
        }
    }

    @Test(
        "rendered chats tokenize to the reference ids",
        .enabled(if: Fixtures.realModelPath != nil, "needs the real model: run ./scripts/setup"))
    func chatIds() throws {
        let tokenizer = try Tokenizer(gguf: GGUFFile(contentsOf: Fixtures.realModelPath!))
        for c in try Fixtures.load("chat-smollm2.json", as: Fixtures.ChatCases.self).cases {
            #expect(tokenizer.encode(try Self.smolTemplate.render(c.messages, addGenerationPrompt: c.addGenerationPrompt)) == c.ids)
        }
    }

    @Test("bundled Llama 3 and Gemma templates, with the model's BOS text")
    func bundled() throws {
        let messages = [ChatMessage(role: "system", content: "Be brief."), ChatMessage(role: "user", content: " Hi ")]
        #expect(
            try ChatTemplate(named: "llama3", bosToken: "<|begin_of_text|>").render(messages)
                == "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
        )
        #expect(
            try ChatTemplate(named: "gemma", bosToken: "<bos>").render(messages)
                == "<bos><start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\n")
        #expect(
            try ChatTemplate(named: "chatml").render(messages, addGenerationPrompt: false)
                == "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n Hi <|im_end|>\n")
        #expect(try ChatTemplate(named: "llama3").endOfTurn == "<|eot_id|>")
    }

    @Test("a template file by path; tools, tool calls and extra variables reach the template")
    func fileAndContext() throws {
        let path = NSTemporaryDirectory() + "colony-template-\(UUID().uuidString).jinja"
        try """
        {%- for m in messages %}{{ m.role }}:{{ m.content if m.content is not none else '' }}\
        {%- for c in m.tool_calls or [] %}[{{ c.function.name }} {{ c.function.arguments.city }}]{% endfor %}\
        {%- if m.tool_call_id %}#{{ m.tool_call_id }}{% endif %}|{% endfor %}\
        {{- tools | map(attribute='function.name') | join(',') }}|{{ enable_thinking }}
        """.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let template = try ChatTemplate(named: path)
        let messages = [
            ChatMessage(role: "user", content: "Weather?"),
            ChatMessage(role: "assistant", content: "", toolCalls: [.init(id: "c1", name: "get_weather", arguments: #"{"city":"Paris"}"#)]),
            ChatMessage(role: "tool", content: "18C", toolCallID: "c1"),
        ]
        let tool = JinjaValue.object(
            JinjaObject([("type", .string("function")), ("function", .object(JinjaObject([("name", .string("get_weather"))])))]))
        #expect(
            try template.render(messages, tools: [tool], extra: JinjaObject([("enable_thinking", .bool(false))]))
                == "user:Weather?|assistant:[get_weather Paris]|tool:18C#c1|get_weather|False")
    }

    @Test("unknown names, bad files and template errors say what is wrong")
    func errors() throws {
        #expect(throws: ModelError.unknownChatTemplate("vicuna", known: ["chatml", "llama3", "gemma"])) {
            try ChatTemplate(named: "vicuna")
        }
        #expect(
            ModelError.unknownChatTemplate("vicuna", known: ChatTemplate.knownNames).description
                == "unknown chat template 'vicuna'; known: chatml, llama3, gemma (choose one with --chat-template)")
        #expect(throws: ModelError.invalidChatTemplate("/no/such.jinja", "cannot read the file")) {
            try ChatTemplate(named: "/no/such.jinja")
        }
        #expect(throws: ModelError.invalidChatTemplate("model", "template line 2: encountered unknown tag 'frobnicate'")) {
            try ChatTemplate(jinja: "hello\n{% frobnicate %}")
        }
        #expect(throws: ModelError.chatTemplateRaised("System role not supported")) {
            try ChatTemplate(jinja: "{% if messages[0].role == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}")
                .render([ChatMessage(role: "system", content: "x")])
        }
        #expect(throws: ModelError.invalidMessages("message 0 has role 'robot'; expected one of system, user, assistant, tool")) {
            try ChatTemplate(named: "llama3").validate([ChatMessage(role: "robot", content: "x")])
        }
    }
}
