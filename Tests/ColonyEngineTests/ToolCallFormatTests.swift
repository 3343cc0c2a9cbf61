import ColonyEngine
import Testing

/// Canned replies in each family's own tool-call format, as their chat templates teach them.
@Suite("Tool calls in each model family's format")
struct ToolCallFormatTests {
    let tools: Set<String> = ["get_weather", "get_time"]
    let paris = ChatToolCall(name: "get_weather", arguments: #"{"city":"Paris"}"#)
    let cet = ChatToolCall(name: "get_time", arguments: #"{"zone":"CET"}"#)

    @Test("the format is chosen from the template's own tool syntax")
    func detection() {
        #expect(ToolCallFormat(template: "{% for tool_call in message.tool_calls %}<tool_call>\n{{ tool_call | tojson }}") == .hermes)
        #expect(ToolCallFormat(template: "{{- '[TOOL_CALLS][' }}") == .mistral)
        #expect(ToolCallFormat(template: "<|tool_call|>{{ message.tool_calls | tojson }}") == .granite)
        #expect(ToolCallFormat(template: "<|tool_call|>{{ tool_calls }}<|/tool_call|>") == .phi4Mini)
        #expect(ToolCallFormat(template: "{{- '<|python_tag|>' + tool_call.name }}") == .llama3)
        #expect(
            ToolCallFormat(template: #"<|start_header_id|>assistant<|end_header_id|>{"name": ..., "parameters": ...}"#) == .llama3)
        #expect(ToolCallFormat(template: "{% for m in messages %}<|im_start|>{{ m.role }}") == .json)
    }

    @Test("Hermes and Qwen: one <tool_call> block per call, text before them kept")
    func hermes() {
        let text = """
            Let me check both.
            <tool_call>
            {"name": "get_weather", "arguments": {"city": "Paris"}}
            </tool_call>
            <tool_call>
            {"name": "get_time", "arguments": {"zone": "CET"}}
            </tool_call>
            """
        #expect(ToolCallFormat.hermes.parse(text, tools: tools) == .init(content: "Let me check both.", calls: [paris, cet]))
    }

    @Test("Llama 3.1 and 3.2: a bare object with parameters, or after <|python_tag|>")
    func llama3() {
        let bare = #"{"name": "get_weather", "parameters": {"city": "Paris"}}"#
        #expect(ToolCallFormat.llama3.parse(bare, tools: tools) == .init(content: "", calls: [paris]))
        let tagged = #"<|python_tag|>{"name": "get_weather", "parameters": {"city": "Paris"}}<|eom_id|>"#
        #expect(ToolCallFormat.llama3.parse(tagged, tools: tools) == .init(content: "", calls: [paris]))
    }

    @Test("Mistral, Granite and Phi-4-mini: a tagged JSON array of calls; arguments may come as a JSON string")
    func taggedArrays() {
        let mistral =
            #"[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Paris"}, "id": "abc123def"}, {"name": "get_time", "arguments": "{\"zone\": \"CET\"}"}]"#
        #expect(ToolCallFormat.mistral.parse(mistral, tools: tools) == .init(content: "", calls: [paris, cet]))
        let granite = #"<|tool_call|>[{"arguments": {"city": "Paris"}, "name": "get_weather"}]"#
        #expect(ToolCallFormat.granite.parse(granite, tools: tools) == .init(content: "", calls: [paris]))
        let phi = #"Sure.<|tool_call|>[{"name": "get_time", "arguments": {"zone": "CET"}}]<|/tool_call|>"#
        #expect(ToolCallFormat.phi4Mini.parse(phi, tools: tools) == .init(content: "Sure.", calls: [cet]))
    }

    @Test("a reasoning model's <think> block becomes reasoning, also when the template opened it")
    func reasoning() {
        let text =
            "<think>\nThe user wants Paris.\n</think>\n\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>"
        #expect(ToolCallFormat.hermes.parse(text, tools: tools) == .init(content: "", reasoning: "The user wants Paris.", calls: [paris]))
        #expect(
            ToolCallFormat.json.parse("Mild weather.</think>It is 18 °C.", tools: tools)
                == .init(content: "It is 18 °C.", reasoning: "Mild weather."))
    }

    @Test("calls of tools not offered, or that do not parse, are text; Colony's own format works in every family")
    func fallbacks() {
        let unknown = "<tool_call>\n{\"name\": \"rm_rf\", \"arguments\": {}}\n</tool_call>"
        #expect(ToolCallFormat.hermes.parse(unknown, tools: tools) == .init(content: unknown))
        let broken = "[TOOL_CALLS][{\"name\": \"get_weather\", \"arguments\": {\"city\": "
        #expect(ToolCallFormat.mistral.parse(broken, tools: tools) == .init(content: broken))
        let own = #"{"name": "get_weather", "arguments": {"city": "Paris"}}"#
        for format in ToolCallFormat.allCases {
            #expect(format.parse(own, tools: tools).calls == [paris], "\(format)")
        }
        #expect(ToolCallFormat.hermes.parse("Plain answer.", tools: tools) == .init(content: "Plain answer."))
    }
}
