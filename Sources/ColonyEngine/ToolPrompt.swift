/// How tools are described to a model whose chat template has no tool syntax of its own:
/// a system-prompt block listing each tool and the JSON shape of a call. Shared by the
/// HTTP server and the in-process agent client so both prompt the same way.
public enum ToolPrompt {
    /// The block for tools given as (name, description, parameters as JSON Schema text).
    public static func render(_ tools: [(name: String, description: String, parametersJSON: String)]) -> String? {
        guard !tools.isEmpty else { return nil }
        let lines = tools.map { "- \($0.name): \($0.description.isEmpty ? "" : $0.description + " ")parameters \($0.parametersJSON)" }
        return "Tools:\n" + lines.joined(separator: "\n") + "\nTo call one, reply only {\"name\": ..., \"arguments\": {...}}."
    }
}
