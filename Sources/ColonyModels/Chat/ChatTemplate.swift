/// One message of a conversation.
public struct ChatMessage: Sendable, Codable, Equatable {
    public var role: String
    public var content: String

    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }

    /// Roles every template accepts.
    public static let roles = ["system", "user", "assistant", "tool"]
}

/// A chat prompt format. Colony renders the known formats natively rather than running
/// the Jinja template stored in the GGUF: the stored template is only used to recognise
/// which format (and which default system prompt) a model expects.
public enum ChatTemplate: Sendable, Equatable {
    /// `<|im_start|>role\ncontent<|im_end|>\n` (SmolLM2, Qwen). When set, the default
    /// system prompt is inserted if the conversation does not start with a system message.
    case chatml(defaultSystemPrompt: String?)
    /// `<|start_header_id|>role<|end_header_id|>\n\ncontent<|eot_id|>` (Llama 3).
    case llama3
    /// `<start_of_turn>user\ncontent<end_of_turn>\n` (Gemma; system text joins the first user turn).
    case gemma

    /// Names accepted by `init(named:)` and `--chat-template`.
    public static let knownNames = ["chatml", "llama3", "gemma"]

    /// A template by name.
    public init(named name: String) throws(ModelError) {
        switch name.lowercased() {
        case "chatml": self = .chatml(defaultSystemPrompt: nil)
        case "llama3", "llama-3": self = .llama3
        case "gemma": self = .gemma
        default: throw .unknownChatTemplate(name, known: Self.knownNames)
        }
    }

    /// Recognises the format of a Jinja chat template as stored in `tokenizer.chat_template`.
    public init(jinja: String) throws(ModelError) {
        if jinja.contains("<|im_start|>") {
            self = .chatml(defaultSystemPrompt: Self.chatmlDefaultSystem(in: jinja))
        } else if jinja.contains("<|start_header_id|>") {
            self = .llama3
        } else if jinja.contains("<start_of_turn>") {
            self = .gemma
        } else {
            throw .unknownChatTemplate(String(jinja.prefix(60)) + (jinja.count > 60 ? "…" : ""), known: Self.knownNames)
        }
    }

    /// The model's own template.
    public init(gguf: GGUFFile) throws(ModelError) {
        guard let jinja = gguf.metadata["tokenizer.chat_template"]?.string else { throw .noChatTemplate }
        try self.init(jinja: jinja)
    }

    /// Text that ends an assistant turn: generation stops there.
    public var endOfTurn: String {
        switch self {
        case .chatml: "<|im_end|>"
        case .llama3: "<|eot_id|>"
        case .gemma: "<end_of_turn>"
        }
    }

    /// Checks roles and ordering before rendering.
    public func validate(_ messages: [ChatMessage]) throws(ModelError) {
        guard !messages.isEmpty else { throw .invalidMessages("a conversation needs at least one message") }
        for (i, m) in messages.enumerated() where !ChatMessage.roles.contains(m.role) {
            throw .invalidMessages("message \(i) has role '\(m.role)'; expected one of \(ChatMessage.roles.joined(separator: ", "))")
        }
    }

    /// The prompt text for `messages`; with `addGenerationPrompt` it ends where the
    /// assistant's reply begins.
    public func render(_ messages: [ChatMessage], addGenerationPrompt: Bool = true) -> String {
        var out = ""
        switch self {
        case .chatml(let defaultSystem):
            if let defaultSystem, messages.first?.role != "system" {
                out += "<|im_start|>system\n\(defaultSystem)<|im_end|>\n"
            }
            for m in messages { out += "<|im_start|>\(m.role)\n\(m.content)<|im_end|>\n" }
            if addGenerationPrompt { out += "<|im_start|>assistant\n" }
        case .llama3:
            out = "<|begin_of_text|>"
            for m in messages {
                out += "<|start_header_id|>\(m.role)<|end_header_id|>\n\n\(m.content.trimmingWhitespace())<|eot_id|>"
            }
            if addGenerationPrompt { out += "<|start_header_id|>assistant<|end_header_id|>\n\n" }
        case .gemma:
            out = "<bos>"
            var pendingSystem: String?
            for m in messages {
                if m.role == "system" {
                    pendingSystem = m.content
                    continue
                }
                var content = m.content.trimmingWhitespace()
                if let system = pendingSystem, m.role == "user" {
                    content = system + "\n\n" + content
                    pendingSystem = nil
                }
                let role = m.role == "assistant" ? "model" : m.role
                out += "<start_of_turn>\(role)\n\(content)<end_of_turn>\n"
            }
            if addGenerationPrompt { out += "<start_of_turn>model\n" }
        }
        return out
    }

    /// SmolLM2-style templates insert a system message when the first one is not a system
    /// message; its text sits between the first `<|im_start|>system\n` and `<|im_end|>`.
    private static func chatmlDefaultSystem(in jinja: String) -> String? {
        guard jinja.contains("!= 'system'"), let start = jinja.range(of: "<|im_start|>system\n"),
            let end = jinja.range(of: "<|im_end|>", range: start.upperBound..<jinja.endIndex)
        else { return nil }
        return String(jinja[start.upperBound..<end.lowerBound])
    }
}

extension String {
    /// The text without the Unicode whitespace at either end.
    public func trimmingWhitespace() -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
            let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })
        else { return "" }
        return String(scalars[first...last])
    }
}
