import ColonyEngine
import Testing

/// Canned replies streamed in pieces of every size: what the stream sends must add up to
/// what the whole reply parses to, and a call must go out as soon as it is whole.
@Suite("Streaming a chat reply: reasoning, text and tool calls as they arrive")
struct ChatStreamParserTests {
    let tools: Set<String> = ["get_weather", "get_time"]
    let paris = ChatToolCall(name: "get_weather", arguments: #"{"city":"Paris"}"#)
    let cet = ChatToolCall(name: "get_time", arguments: #"{"zone":"CET"}"#)

    /// The reply fed in pieces of `size` characters: every delta, in order.
    func stream(
        _ text: String, _ format: ToolCallFormat, size: Int, tools: Set<String>? = nil, opens: Bool = false
    ) -> [ChatStreamParser.Delta] {
        var parser = ChatStreamParser(format: format, tools: tools ?? self.tools, opensReasoning: opens)
        var out: [ChatStreamParser.Delta] = []
        var rest = Substring(text)
        while !rest.isEmpty {
            out += parser.feed(String(rest.prefix(size)))
            rest = rest.dropFirst(size)
        }
        return out + parser.finish()
    }

    /// Content, reasoning and calls summed over the deltas.
    func summed(_ deltas: [ChatStreamParser.Delta]) -> (content: String, reasoning: String, calls: [ChatToolCall]) {
        var (content, reasoning, calls) = ("", "", [ChatToolCall]())
        for d in deltas {
            switch d {
            case .content(let t): content += t
            case .reasoning(let t): reasoning += t
            case .call(let c): calls.append(c)
            }
        }
        return (content, reasoning, calls)
    }

    @Test("every family's canned reply streams to what it parses to whole, in pieces of any size")
    func agreesWithWholeParse() {
        let replies: [(ToolCallFormat, String)] = [
            (
                .hermes,
                "Let me check both.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>\n<tool_call>\n{\"name\": \"get_time\", \"arguments\": {\"zone\": \"CET\"}}\n</tool_call>"
            ),
            (
                .hermes,
                "<think>\nThe user wants Paris.\n</think>\n\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>"
            ),
            (.llama3, #"{"name": "get_weather", "parameters": {"city": "Paris"}}"#),
            (.llama3, #"<|python_tag|>{"name": "get_time", "parameters": {"zone": "CET"}}"#),
            (
                .mistral,
                #"[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Paris"}}, {"name": "get_time", "arguments": {"zone": "CET"}}]"#
            ),
            (.granite, #"<|tool_call|>[{"name": "get_time", "arguments": {"zone": "CET"}}]"#),
            (.phi4Mini, #"Sure. <|tool_call|>[{"name": "get_weather", "arguments": {"city": "Paris"}}]<|/tool_call|>"#),
            (.json, #"{"name": "get_weather", "arguments": {"city": "Paris"}}"#),
            (.json, #"{"not": "a call"} is JSON but no call"#),
            (.hermes, "<think>Short.</think>Plain answer, with <b>tags</b> and a < sign."),
            (.hermes, "A <tool_call> for a tool not offered: <tool_call>{\"name\": \"launch\", \"arguments\": {}}</tool_call>"),
        ]
        for (format, text) in replies {
            let whole = format.parse(text, tools: tools)
            for size in [1, 2, 3, 7, text.count] {
                let (content, reasoning, calls) = summed(stream(text, format, size: size))
                #expect(calls == whole.calls, "\(format) in pieces of \(size): \(text)")
                #expect(content.trimmingWhitespace() == whole.content, "\(format) in pieces of \(size): \(text)")
                #expect((reasoning.isEmpty ? nil : reasoning.trimmingWhitespace()) == whole.reasoning, "\(format) pieces of \(size)")
            }
        }
    }

    @Test("text and reasoning go out as they arrive; a Hermes call goes out when its block closes")
    func incremental() {
        var parser = ChatStreamParser(format: .hermes, tools: tools)
        #expect(parser.feed("<thi") == [])
        #expect(parser.feed("nk>Plan") == [.reasoning("Plan")])
        #expect(parser.feed(" it.</think>Checking") == [.reasoning(" it."), .content("Checking")])
        // "<tool" may begin a call marker: held until the next piece settles it.
        #expect(parser.feed(" now <tool") == [.content(" now ")])
        #expect(parser.feed("_call>{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}") == [])
        #expect(parser.feed("</tool_call><tool_call>{\"name\": \"get_time\",") == [.call(paris)])
        #expect(parser.feed(" \"arguments\": {\"zone\": \"CET\"}}</tool_call>") == [.call(cet)])
        #expect(parser.finish() == [])
    }

    @Test("a reply the template opened in reasoning, and a reply without tools, stream as such")
    func openedAndToolless() {
        #expect(summed(stream("Thinking hard.</think>Answer.", .hermes, size: 2, opens: true)).reasoning == "Thinking hard.")
        #expect(summed(stream("Thinking hard.</think>Answer.", .hermes, size: 2, opens: true)).content == "Answer.")
        // Without tools a call marker is just text, sent as it comes.
        let text = "<tool_call>{\"name\": \"get_weather\", \"arguments\": {}}</tool_call>"
        let deltas = stream(text, .hermes, size: 4, tools: [])
        #expect(deltas.count > 1)
        #expect(deltas.allSatisfy { if case .content = $0 { true } else { false } })
        #expect(summed(deltas).content == text)
    }
}
