import ColonyModels

/// How a model family writes tool calls, so that `tool_choice: auto` replies are read in the
/// model's own format. Chosen from the chat template's text; every format also accepts
/// Colony's own (the whole reply one `{"name": …, "arguments": {…}}` object).
public enum ToolCallFormat: String, Sendable, CaseIterable {
    /// Colony's own: the reply is one `{"name": …, "arguments": {…}}` object.
    case json
    /// `<tool_call>{"name": …, "arguments": {…}}</tool_call>`, one block per call (Hermes 2 Pro, Qwen 2.5 and 3).
    case hermes
    /// `{"name": …, "parameters": {…}}`, optionally after `<|python_tag|>` (Llama 3.1 and 3.2).
    case llama3
    /// `[TOOL_CALLS][{"name": …, "arguments": {…}}, …]` (Mistral).
    case mistral
    /// `<|tool_call|>[{"name": …, "arguments": {…}}, …]` (Granite 3).
    case granite
    /// `<|tool_call|>[{"name": …, "arguments": {…}}]<|/tool_call|>` (Phi-4-mini).
    case phi4Mini = "phi4-mini"

    /// The format a Jinja chat template writes tool calls in (`json` when it shows none).
    public init(template jinja: String) {
        if jinja.contains("<tool_call>") {
            self = .hermes
        } else if jinja.contains("[TOOL_CALLS]") {
            self = .mistral
        } else if jinja.contains("<|tool_call|>") {
            self = jinja.contains("<|/tool_call|>") ? .phi4Mini : .granite
        } else if jinja.contains("<|python_tag|>") || (jinja.contains("<|start_header_id|>") && jinja.contains("parameters")) {
            self = .llama3
        } else {
            self = .json
        }
    }

    /// What the family writes before a call. A forced call's prompt ends with it, so the
    /// constrained call object continues the model's own format (the first item of the
    /// array, in the families that write an array).
    public var callOpener: String {
        switch self {
        case .json, .llama3: ""
        case .hermes: "<tool_call>\n"
        case .mistral: "[TOOL_CALLS]["
        case .granite, .phi4Mini: "<|tool_call|>["
        }
    }

    /// A reply split into its reasoning (`<think>…</think>`), its text and its tool calls.
    public struct Reply: Sendable, Equatable {
        public var content: String
        public var reasoning: String?
        public var calls: [ChatToolCall]

        public init(content: String, reasoning: String? = nil, calls: [ChatToolCall] = []) {
            self.content = content
            self.reasoning = reasoning
            self.calls = calls
        }
    }

    /// Reads `text` as this family writes it. Calls must name one of `tools`; a reply whose
    /// calls do not parse, or name another tool, is text.
    public func parse(_ text: String, tools: Set<String>) -> Reply {
        let (reasoning, rest) = Self.splitReasoning(text)
        let trimmed = rest.trimmingWhitespace()
        if let calls = calls(in: trimmed, tools: tools) { return Reply(content: calls.content, reasoning: reasoning, calls: calls.calls) }
        if let call = Self.call(JSONValue(parsing: trimmed), tools: tools, stringArguments: false) {
            return Reply(content: "", reasoning: reasoning, calls: [call])
        }
        // Text stays as the model wrote it; only what followed a reasoning block is trimmed.
        return Reply(content: reasoning == nil ? text : trimmed, reasoning: reasoning)
    }

    private func calls(in text: String, tools: Set<String>) -> (content: String, calls: [ChatToolCall])? {
        switch self {
        case .json:
            return nil
        case .hermes:
            var calls: [ChatToolCall] = []
            var content = ""
            var rest = Substring(text)
            while let open = rest.range(of: "<tool_call>") {
                content += rest[..<open.lowerBound]
                guard let close = rest[open.upperBound...].range(of: "</tool_call>"),
                    let call = Self.call(
                        JSONValue(parsing: String(rest[open.upperBound..<close.lowerBound])), tools: tools, stringArguments: true)
                else { return nil }
                calls.append(call)
                rest = rest[close.upperBound...]
            }
            content += rest
            return calls.isEmpty ? nil : (content.trimmingWhitespace(), calls)
        case .llama3:
            guard let tag = text.range(of: "<|python_tag|>") else { return nil }
            let body = String(text[tag.upperBound...]).replacingOccurrences(of: "<|eom_id|>", with: "").trimmingWhitespace()
            guard let call = Self.call(JSONValue(parsing: body), tools: tools, stringArguments: true) else { return nil }
            return (String(text[..<tag.lowerBound]).trimmingWhitespace(), [call])
        case .mistral:
            return Self.taggedArray(text, open: "[TOOL_CALLS]", close: nil, tools: tools)
        case .granite:
            return Self.taggedArray(text, open: "<|tool_call|>", close: nil, tools: tools)
        case .phi4Mini:
            return Self.taggedArray(text, open: "<|tool_call|>", close: "<|/tool_call|>", tools: tools)
        }
    }

    /// Text before `open`, then a JSON array of calls up to `close` (or the end).
    private static func taggedArray(
        _ text: String, open: String, close: String?, tools: Set<String>
    ) -> (content: String, calls: [ChatToolCall])? {
        guard let start = text.range(of: open) else { return nil }
        var body = Substring(text[start.upperBound...])
        if let close, let end = body.range(of: close) { body = body[..<end.lowerBound] }
        guard let items = JSONValue(parsing: String(body).trimmingWhitespace())?.arrayValue, !items.isEmpty else { return nil }
        var calls: [ChatToolCall] = []
        for item in items {
            guard let call = call(item, tools: tools, stringArguments: true) else { return nil }
            calls.append(call)
        }
        return (String(text[..<start.lowerBound]).trimmingWhitespace(), calls)
    }

    /// `{"name": …, "arguments"|"parameters": {…}}` naming one of `tools`; with
    /// `stringArguments`, the arguments may also be JSON object text (as some families write them).
    private static func call(_ value: JSONValue?, tools: Set<String>, stringArguments: Bool) -> ChatToolCall? {
        guard let object = value?.objectValue, let name = object["name"]?.stringValue, tools.contains(name) else { return nil }
        var arguments = object["arguments"] ?? object["parameters"]
        if stringArguments, let text = arguments?.stringValue { arguments = JSONValue(parsing: text) }
        guard let arguments, arguments.objectValue != nil else { return nil }
        return ChatToolCall(name: name, arguments: arguments.encoded())
    }

    /// The reasoning of a `<think>…</think>` block (or of everything before a lone `</think>`,
    /// when the template opened the block) and the text without it.
    static func splitReasoning(_ text: String) -> (reasoning: String?, rest: String) {
        guard let close = text.range(of: "</think>") else { return (nil, text) }
        let before = text[..<close.lowerBound]
        let open = before.range(of: "<think>")
        let reasoning = String(before[(open?.upperBound ?? before.startIndex)...]).trimmingWhitespace()
        let rest = String(text[..<(open?.lowerBound ?? before.startIndex)]) + String(text[close.upperBound...])
        return (reasoning, rest)
    }
}
