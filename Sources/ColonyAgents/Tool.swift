import ColonyEngine
import Foundation

/// Something an agent can do: a named function with JSON-schema parameters.
///
/// Contract for conformers: `call` receives the arguments as a JSON object text that
/// already matches `parameters` when the call came from constrained decoding, but may
/// not otherwise (a remote model), so it must validate and throw `ToolError` with a
/// message the model can act on. It must not crash on any input. `isIdempotent` says
/// whether running it twice has the same effect as once (a retry after a crash is then safe).
public protocol Tool: Sendable {
    var name: String { get }
    var description: String { get }
    /// The parameters as a JSON Schema object text (OpenAI's `function.parameters`).
    var parametersJSON: String { get }
    var isIdempotent: Bool { get }
    func call(arguments: String) async throws -> String
}

extension Tool {
    /// The parameters parsed for constrained decoding.
    func parameterSchema() throws -> JSONSchema {
        try JSONSchema(json: try JSONSerialization.jsonObject(with: Data(parametersJSON.utf8)), path: "\(name).parameters")
    }
}

/// Decodes a tool's JSON arguments into `T`, with an error that names the problem.
func decodeArguments<T: Decodable>(_ type: T.Type, _ json: String, tool: String) throws -> T {
    do {
        return try JSONDecoder().decode(T.self, from: Data(json.utf8))
    } catch {
        throw ToolError.invalidArguments(tool: tool, arguments: json, expected: "\(T.self)")
    }
}
