import ColonyJinja
import Foundation

/// A model's chat template: the Jinja source stored in its GGUF (`tokenizer.chat_template`),
/// a bundled one (`chatml`, `llama3`, `gemma`) or a `.jinja` file, rendered as Hugging Face's
/// `apply_chat_template` renders it, with the tools, tool calls and tool results.
///
/// ```swift
/// let template = try ChatTemplate(gguf: file)
/// let prompt = try template.render(messages, tools: tools, extra: ["enable_thinking": .bool(false)])
/// ```
public struct ChatTemplate: Sendable {
    /// Where the template came from: "model", a bundled name, or a file path.
    public let name: String
    public let source: String
    /// The text of the model's BOS and EOS tokens (`bos_token`, `eos_token` in the template).
    public let bosToken: String
    public let eosToken: String
    private let jinja: JinjaTemplate

    /// Names of the bundled templates, for `--chat-template`.
    public static let knownNames = ["chatml", "llama3", "gemma"]

    /// Parses `source`; a syntax error names the template line.
    public init(jinja source: String, name: String = "model", bosToken: String = "", eosToken: String = "") throws(ModelError) {
        do { jinja = try JinjaTemplate(source) } catch { throw .invalidChatTemplate(name, error.description) }
        self.name = name
        self.source = source
        self.bosToken = bosToken
        self.eosToken = eosToken
    }

    /// A bundled template by name, or a Jinja file by path.
    public init(named name: String, bosToken: String = "", eosToken: String = "") throws(ModelError) {
        let key = name.lowercased() == "llama-3" ? "llama3" : name.lowercased()
        if Self.knownNames.contains(key) {
            guard let url = Bundle.module.url(forResource: key, withExtension: "jinja", subdirectory: "Templates"),
                let source = try? String(contentsOf: url, encoding: .utf8)
            else { throw .unknownChatTemplate(name, known: Self.knownNames) }
            try self.init(jinja: source, name: key, bosToken: bosToken, eosToken: eosToken)
        } else if name.hasSuffix(".jinja") || name.contains("/") || FileManager.default.fileExists(atPath: name) {
            guard let source = try? String(contentsOfFile: name, encoding: .utf8) else {
                throw .invalidChatTemplate(name, "cannot read the file")
            }
            try self.init(jinja: source, name: name, bosToken: bosToken, eosToken: eosToken)
        } else {
            throw .unknownChatTemplate(name, known: Self.knownNames)
        }
    }

    /// The model's own template, with its BOS and EOS token texts.
    public init(gguf: GGUFFile) throws(ModelError) {
        guard let source = gguf.metadata["tokenizer.chat_template"]?.string else { throw .noChatTemplate }
        let (bos, eos) = Self.specialTokens(gguf)
        try self.init(jinja: source, name: "model", bosToken: bos, eosToken: eos)
    }

    /// `--chat-template NAME|FILE` when given (with the model's token texts), else the model's own.
    public init(named name: String?, gguf: GGUFFile) throws(ModelError) {
        guard let name else {
            try self.init(gguf: gguf)
            return
        }
        let (bos, eos) = Self.specialTokens(gguf)
        try self.init(named: name, bosToken: bos, eosToken: eos)
    }

    static func specialTokens(_ gguf: GGUFFile) -> (String, String) {
        let tokens = gguf.metadata["tokenizer.ggml.tokens"]?.array
        let text = { (key: String) -> String in
            guard let id = gguf.metadata[key]?.integer, let t = tokens, t.indices.contains(Int(id)) else { return "" }
            return t[Int(id)].string ?? ""
        }
        return (text("tokenizer.ggml.bos_token_id"), text("tokenizer.ggml.eos_token_id"))
    }

    /// Text that ends an assistant turn: generation stops there.
    public var endOfTurn: String {
        for marker in ["<|im_end|>", "<|eot_id|>", "<end_of_turn>", "<|end|>", "<|eom_id|>"] where source.contains(marker) { return marker }
        return eosToken
    }

    /// Whether the template lays out tools itself (else they are described in the system message).
    public var rendersTools: Bool { source.contains("tools") }

    /// Checks roles before rendering.
    public func validate(_ messages: [ChatMessage]) throws(ModelError) {
        guard !messages.isEmpty else { throw .invalidMessages("a conversation needs at least one message") }
        for (i, m) in messages.enumerated() where !ChatMessage.roles.contains(m.role) {
            throw .invalidMessages("message \(i) has role '\(m.role)'; expected one of \(ChatMessage.roles.joined(separator: ", "))")
        }
    }

    /// The prompt text for `messages`; with `addGenerationPrompt` it ends where the
    /// assistant's reply begins. `tools` are OpenAI-style tool objects; `extra` holds further
    /// template variables (a request's `chat_template_kwargs`, such as `enable_thinking`).
    public func render(
        _ messages: [ChatMessage], addGenerationPrompt: Bool = true, tools: [JinjaValue]? = nil, extra: JinjaObject = JinjaObject()
    ) throws(ModelError) -> String {
        var context = JinjaObject([
            ("messages", .array(messages.map(\.jinja))), ("tools", tools.map { .array($0) } ?? .none), ("documents", .none),
            ("add_generation_prompt", .bool(addGenerationPrompt)), ("bos_token", .string(bosToken)), ("eos_token", .string(eosToken)),
        ])
        for (k, v) in extra.pairs { context[k] = v }
        return try render(context: context)
    }

    /// The template rendered with `context` as its variables, as given.
    public func render(context: JinjaObject) throws(ModelError) -> String {
        do { return try jinja.render(context) } catch {
            if case .raised(let message) = error { throw .chatTemplateRaised(message) }
            throw .invalidChatTemplate(name, error.description)
        }
    }

    /// The prompt's token ids: rendered, then encoded with the tokenizer's BOS, minus the
    /// template's own BOS text when both would be there (llama.cpp does the same).
    public func tokens(
        _ messages: [ChatMessage], tokenizer: Tokenizer, tools: [JinjaValue]? = nil, extra: JinjaObject = JinjaObject()
    ) throws(ModelError) -> [Int] {
        encode(try render(messages, tools: tools, extra: extra), tokenizer: tokenizer)
    }

    /// A rendered prompt's token ids, with one BOS however many the template and the
    /// tokenizer would add.
    public func encode(_ rendered: String, tokenizer: Tokenizer) -> [Int] {
        var text = rendered
        if tokenizer.addBOS, !bosToken.isEmpty, text.hasPrefix(bosToken) { text.removeFirst(bosToken.count) }
        return tokenizer.encode(text)
    }
}
