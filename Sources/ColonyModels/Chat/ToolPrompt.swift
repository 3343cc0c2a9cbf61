/// How tools are described to a model whose chat template has no tool syntax of its own:
/// a system-prompt block listing each tool and the JSON shape of a call. Shared by the
/// HTTP server, the in-process agent client and the trainer (for agent trajectories), so
/// a model is trained on exactly the prompts it is later served.
public enum ToolPrompt {
    /// `messages` with the tool block appended to the system message (or added as one).
    public static func apply(_ tools: [(name: String, description: String, parametersJSON: String)], to messages: [ChatMessage])
        -> [ChatMessage]
    {
        guard let block = render(tools) else { return messages }
        var messages = messages
        if messages.first?.role == "system" {
            messages[0].content += "\n\n" + block
        } else {
            messages.insert(ChatMessage(role: "system", content: block), at: 0)
        }
        return messages
    }

    /// The block for tools given as (name, description, parameters as JSON Schema text).
    public static func render(_ tools: [(name: String, description: String, parametersJSON: String)]) -> String? {
        guard !tools.isEmpty else { return nil }
        let lines = tools.map { "- \($0.name): \($0.description.isEmpty ? "" : $0.description + " ")parameters \($0.parametersJSON)" }
        return "Tools:\n" + lines.joined(separator: "\n") + "\nTo call one, reply only {\"name\": ..., \"arguments\": {...}}."
    }
}
