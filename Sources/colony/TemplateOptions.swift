import ArgumentParser
import ColonyEngine
import ColonyModels

/// Chat-template flags shared by generate and chat.
struct TemplateOptions: ParsableArguments {
    @Option(name: .long, help: "A system message to start the conversation with.")
    var system: String?

    @Option(name: .long, help: "Chat template to use instead of the model's: chatml, llama3, gemma, or a .jinja file.")
    var chatTemplate: String?

    func validate() throws { try Self.check(chatTemplate) }

    /// Refuses a --chat-template that names no bundled template and no readable, valid Jinja
    /// file (serve checks the same way).
    static func check(_ name: String?) throws {
        if let name {
            do { _ = try ChatTemplate(named: name) } catch { throw ValidationError(error.description) }
        }
    }

    /// True when the user set any template flag (generate --raw refuses them).
    var isSet: Bool { system != nil || chatTemplate != nil }

    /// The template to use: the one named by --chat-template, else the model's own.
    func template(for file: GGUFFile) throws(ModelError) -> ChatTemplate {
        try ChatTemplate(named: chatTemplate, gguf: file)
    }

    /// For servers: the template `name`d, else the model's own, else none (completions only).
    static func template(named name: String?, gguf file: GGUFFile) throws -> ChatTemplate? {
        if name != nil { return try ChatTemplate(named: name, gguf: file) }
        return try? ChatTemplate(gguf: file)
    }

    /// How the model writes tool calls, from its own template (whichever template renders the prompt).
    static func toolFormat(gguf file: GGUFFile) -> ToolCallFormat {
        file.metadata["tokenizer.chat_template"]?.string.map(ToolCallFormat.init(template:)) ?? .json
    }

    /// The conversation's opening messages (the system message, if any).
    var openingMessages: [ChatMessage] { system.map { [ChatMessage(role: "system", content: $0)] } ?? [] }
}
