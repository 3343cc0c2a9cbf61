import ColonyModels

/// Reads a chat reply as it streams: reasoning (`<think>…</think>`) and text go out as they
/// arrive, and each tool call goes out once it is whole, in the family's format. A pure
/// value: the server feeds it the text of each token and sends what it returns.
///
/// Text that may still turn out to start a tool-call marker or a reasoning tag is held back
/// until the next piece settles it; a reply that is one JSON object (Colony's own call
/// format) is held whole, since only its end tells a call from text.
public struct ChatStreamParser: Sendable {
    /// What to send now.
    public enum Delta: Sendable, Equatable {
        case reasoning(String)
        case content(String)
        case call(ChatToolCall)
    }

    private enum Phase {
        /// Before anything but whitespace: a reasoning block or a bare JSON call may start.
        case start
        case reasoning
        case content
        /// After a call marker (or at a bare JSON object): held until calls complete.
        case calls
    }

    private let format: ToolCallFormat
    private let tools: Set<String>
    private var phase: Phase
    private var pending = ""
    /// The held call region, from its marker on.
    private var held = ""
    /// Calls already sent (Hermes blocks complete one at a time).
    private var sent = 0

    /// `opensReasoning`: the prompt ended inside a `<think>` block the template opened.
    public init(format: ToolCallFormat, tools: Set<String>, opensReasoning: Bool = false) {
        self.format = format
        self.tools = tools
        phase = opensReasoning ? .reasoning : .start
    }

    /// The marker that starts the family's calls, if it has one.
    private var marker: String? {
        switch format {
        case .json: nil
        case .hermes: "<tool_call>"
        case .llama3: "<|python_tag|>"
        case .mistral: "[TOOL_CALLS]"
        case .granite, .phi4Mini: "<|tool_call|>"
        }
    }

    public mutating func feed(_ text: String) -> [Delta] {
        pending += text
        var out: [Delta] = []
        while let d = step(final: false) { out.append(contentsOf: d) }
        return Self.merged(out)
    }

    /// The rest, once the reply has ended: held text, and the calls that parse.
    public mutating func finish() -> [Delta] {
        var out: [Delta] = []
        while let d = step(final: true) { out.append(contentsOf: d) }
        if phase == .calls {
            let parsed = format.parse(held, tools: tools)
            if parsed.calls.isEmpty {
                out.append(.content(held))
            } else {
                if !parsed.content.isEmpty, sent == 0 { out.append(.content(parsed.content)) }
                out += parsed.calls.dropFirst(sent).map { .call($0) }
            }
            held = ""
        }
        return Self.merged(out).filter { $0 != .content("") && $0 != .reasoning("") }
    }

    /// Consumes what `pending` settles; nil when it must wait for more text.
    private mutating func step(final: Bool) -> [Delta]? {
        guard !pending.isEmpty else { return nil }
        switch phase {
        case .start:
            let trimmed = pending.drop { $0.isWhitespace }
            if trimmed.isEmpty { return final ? take(pending.count, as: Delta.content) : nil }
            if trimmed.hasPrefix("<think>") {
                pending = String(trimmed.dropFirst("<think>".count))
                phase = .reasoning
                return []
            }
            if !final, "<think>".hasPrefix(trimmed) { return nil }
            if !tools.isEmpty, trimmed.hasPrefix("{") {
                phase = .calls
                held = pending
                pending = ""
                return []
            }
            phase = .content
            return []
        case .reasoning:
            if let close = pending.range(of: "</think>") {
                let reasoning = String(pending[..<close.lowerBound])
                pending = String(pending[close.upperBound...].drop { $0.isWhitespace })
                phase = .start
                return [.reasoning(reasoning)]
            }
            return final ? take(pending.count, as: Delta.reasoning) : takeSettled(before: ["</think>"], as: Delta.reasoning)
        case .content:
            if !tools.isEmpty, let marker, let at = pending.range(of: marker) {
                let before = String(pending[..<at.lowerBound])
                held = String(pending[at.lowerBound...])
                pending = ""
                phase = .calls
                return [.content(before)]
            }
            if final { return take(pending.count, as: Delta.content) }
            return takeSettled(before: tools.isEmpty ? [] : marker.map { [$0] } ?? [], as: Delta.content)
        case .calls:
            held += pending
            pending = ""
            return completedHermesCalls()
        }
    }

    /// Sends each `<tool_call>…</tool_call>` block as soon as it closes.
    private mutating func completedHermesCalls() -> [Delta] {
        guard format == .hermes else { return [] }
        let blocks = held.components(separatedBy: "</tool_call>").dropLast()
        guard blocks.count > sent else { return [] }
        let parsed = format.parse(blocks.joined(separator: "</tool_call>") + "</tool_call>", tools: tools)
        guard parsed.calls.count == blocks.count else { return [] }
        defer { sent = parsed.calls.count }
        return parsed.calls.dropFirst(sent).map { .call($0) }
    }

    /// All of `pending` but a tail that may begin one of `markers`.
    private mutating func takeSettled(before markers: [String], as kind: (String) -> Delta) -> [Delta]? {
        var keep = 0
        for m in markers {
            for n in stride(from: min(m.count - 1, pending.count), to: 0, by: -1) where pending.hasSuffix(m.prefix(n)) {
                keep = max(keep, n)
                break
            }
        }
        let n = pending.count - keep
        guard n > 0 else { return nil }
        return take(n, as: kind)
    }

    private mutating func take(_ n: Int, as kind: (String) -> Delta) -> [Delta] {
        let text = String(pending.prefix(n))
        pending = String(pending.dropFirst(n))
        return [kind(text)]
    }

    /// Neighbouring pieces of one kind as one.
    private static func merged(_ deltas: [Delta]) -> [Delta] {
        var out: [Delta] = []
        for d in deltas {
            switch (out.last, d) {
            case (.content(let a)?, .content(let b)): out[out.count - 1] = .content(a + b)
            case (.reasoning(let a)?, .reasoning(let b)): out[out.count - 1] = .reasoning(a + b)
            default: out.append(d)
            }
        }
        return out.filter { $0 != .content("") && $0 != .reasoning("") }
    }
}
