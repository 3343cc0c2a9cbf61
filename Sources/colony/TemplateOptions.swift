import ArgumentParser
import ColonyEngine
import ColonyModels

/// Chat-template flags shared by generate and chat.
struct TemplateOptions: ParsableArguments {
    @Option(name: .long, help: "A system message to start the conversation with.")
    var system: String?

    @Option(name: .long, help: "Chat template to use instead of the model's: chatml, llama3, gemma.")
    var chatTemplate: String?

    func validate() throws { try Self.check(chatTemplate) }

    /// Refuses a --chat-template name no template answers to (serve checks the same way).
    static func check(_ name: String?) throws {
        if let name, !ChatTemplate.knownNames.contains(name.lowercased()) {
            throw ValidationError("unknown chat template '\(name)'; known: \(ChatTemplate.knownNames.joined(separator: ", "))")
        }
    }

    /// True when the user set any template flag (generate --raw refuses them).
    var isSet: Bool { system != nil || chatTemplate != nil }

    /// The template to use: the one named by --chat-template, else the model's own.
    func template(for file: GGUFFile) throws(ModelError) -> ChatTemplate {
        if let chatTemplate { return try ChatTemplate(named: chatTemplate) }
        return try ChatTemplate(gguf: file)
    }

    /// For servers: the template `name`d, else the model's own, else none (completions only).
    static func template(named name: String?, gguf file: GGUFFile) throws -> ChatTemplate? {
        if let name { return try ChatTemplate(named: name) }
        return try? ChatTemplate(gguf: file)
    }

    /// How the model writes tool calls, from its own template (whichever template renders the prompt).
    static func toolFormat(gguf file: GGUFFile) -> ToolCallFormat {
        file.metadata["tokenizer.chat_template"]?.string.map(ToolCallFormat.init(template:)) ?? .json
    }

    /// The conversation's opening messages (the system message, if any).
    var openingMessages: [ChatMessage] { system.map { [ChatMessage(role: "system", content: $0)] } ?? [] }
}
