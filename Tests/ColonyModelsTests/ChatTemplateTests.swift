import ColonyModels
import Testing

@Suite("Chat templates")
struct ChatTemplateTests {
    static let smolTemplate = try! ChatTemplate(gguf: GGUFFile(contentsOf: Fixtures.path("tiny-llama-tied.gguf")))

    @Test("ChatML renders exactly what the Jinja template renders")
    func chatmlFixture() throws {
        let cases = try Fixtures.load("chat-smollm2.json", as: Fixtures.ChatCases.self).cases
        #expect(cases.count >= 3)
        for c in cases {
            #expect(Self.smolTemplate.render(c.messages, addGenerationPrompt: c.addGenerationPrompt) == c.prompt)
        }
    }

    @Test(
        "rendered chats tokenize to the reference ids",
        .enabled(if: Fixtures.realModelPath != nil, "needs the real model: run ./scripts/setup"))
    func chatIds() throws {
        let tokenizer = try Tokenizer(gguf: GGUFFile(contentsOf: Fixtures.realModelPath!))
        for c in try Fixtures.load("chat-smollm2.json", as: Fixtures.ChatCases.self).cases {
            #expect(tokenizer.encode(Self.smolTemplate.render(c.messages, addGenerationPrompt: c.addGenerationPrompt)) == c.ids)
        }
    }

    @Test("the SmolLM2 default system prompt is found in the template")
    func defaultSystem() {
        #expect(Self.smolTemplate == .chatml(defaultSystemPrompt: "You are a helpful AI assistant named SmolLM, trained by Hugging Face"))
    }

    @Test("Llama 3 and Gemma formats")
    func otherFormats() throws {
        let messages = [ChatMessage(role: "system", content: "Be brief."), ChatMessage(role: "user", content: " Hi ")]
        #expect(
            try ChatTemplate(named: "llama3").render(messages)
                == "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
        )
        #expect(
            try ChatTemplate(named: "gemma").render(messages)
                == "<bos><start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\n")
        #expect(try ChatTemplate(jinja: "{{ '<|start_header_id|>' }}") == .llama3)
    }

    @Test("unknown templates and roles get errors that list the choices")
    func errors() {
        #expect(throws: ModelError.unknownChatTemplate("vicuna", known: ["chatml", "llama3", "gemma"])) {
            try ChatTemplate(named: "vicuna")
        }
        #expect(
            ModelError.unknownChatTemplate("vicuna", known: ChatTemplate.knownNames).description
                == "unknown chat template 'vicuna'; known: chatml, llama3, gemma (choose one with --chat-template)")
        #expect(throws: ModelError.invalidMessages("message 0 has role 'robot'; expected one of system, user, assistant, tool")) {
            try ChatTemplate.llama3.validate([ChatMessage(role: "robot", content: "x")])
        }
    }
}
