import ColonyEngine
import ColonyModels
import Foundation

/// The `tools` and `tool_choice` of a chat request, and `response_format: json_schema`,
/// read from the raw body (schemas are free-form JSON that `Codable` cannot hold).
struct StructuredOutput {
    enum ToolChoice: Equatable {
        /// The model may answer in text or call a tool; a reply that parses as a call is one.
        case auto
        /// The reply is a call of one of the tools (constrained).
        case required
        /// The reply is a call of this tool (constrained).
        case named(String)
    }

    struct ToolInfo {
        let name: String
        let description: String
        let parametersJSON: String
        let parameters: JSONSchema
    }

    var tools: [ToolInfo] = []
    var choice = ToolChoice.auto
    var schema: JSONSchema?

    /// Parses and validates; a malformed or unsupported part is a 400 naming it.
    init(body: Data) throws(APIError) {
        guard let raw = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] else { return }
        if let format = raw["response_format"] as? [String: Any], format["type"] as? String == "json_schema" {
            guard let spec = format["json_schema"] as? [String: Any], let schema = spec["schema"] else {
                throw .badRequest("response_format.json_schema.schema is required", param: "response_format")
            }
            do { self.schema = try JSONSchema(json: schema, path: "response_format.json_schema.schema") } catch {
                throw .badRequest(error.description, param: "response_format")
            }
        }
        if let list = raw["tools"] {
            guard let list = list as? [[String: Any]] else { throw .badRequest("tools must be a list of objects", param: "tools") }
            for (i, tool) in list.enumerated() {
                guard tool["type"] as? String == "function", let function = tool["function"] as? [String: Any],
                      let name = function["name"] as? String, !name.isEmpty else {
                    throw .badRequest("tools[\(i)] must be {\"type\": \"function\", \"function\": {\"name\": ...}}", param: "tools")
                }
                let parameters = function["parameters"] ?? ["type": "object", "properties": [String: Any]()]
                let schema: JSONSchema
                do { schema = try JSONSchema(json: parameters, path: "tools[\(i)].function.parameters") } catch {
                    throw .badRequest(error.description, param: "tools")
                }
                let text = (try? JSONSerialization.data(withJSONObject: parameters, options: [.sortedKeys, .withoutEscapingSlashes])).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
                tools.append(ToolInfo(name: name, description: function["description"] as? String ?? "", parametersJSON: text, parameters: schema))
            }
        }
        switch raw["tool_choice"] {
        case nil: break
        case let s as String:
            switch s {
            case "auto": choice = .auto
            case "required": choice = .required
            case "none": tools = []
            default: throw .badRequest("tool_choice must be none, auto, required or a function, got '\(s)'", param: "tool_choice")
            }
        case let o as [String: Any]:
            guard let name = (o["function"] as? [String: Any])?["name"] as? String else {
                throw .badRequest("tool_choice must name a function: {\"type\": \"function\", \"function\": {\"name\": ...}}", param: "tool_choice")
            }
            guard tools.contains(where: { $0.name == name }) else { throw .badRequest("tool_choice names '\(name)', which is not in tools", param: "tool_choice") }
            choice = .named(name)
        default:
            throw .badRequest("tool_choice must be a string or an object", param: "tool_choice")
        }
        if schema != nil, !tools.isEmpty, choice != .auto {
            throw .badRequest("response_format json_schema and a required tool call cannot be combined", param: "response_format")
        }
    }

    /// The decoding constraint: a forced tool call, a schema, or nothing.
    var constraint: OutputConstraint? {
        switch choice {
        case .required where !tools.isEmpty:
            return .jsonSchema(.toolCall(tools.map { .init(name: $0.name, parameters: $0.parameters) }))
        case .named(let name):
            return .jsonSchema(.toolCall(tools.filter { $0.name == name }.map { .init(name: $0.name, parameters: $0.parameters) }))
        default:
            return schema.map { .jsonSchema($0) }
        }
    }

    /// A system message that tells the model which tools exist and how to call them.
    /// `messages` with the tools described in the system prompt.
    func withToolPrompt(_ messages: [ChatMessage]) -> [ChatMessage] {
        ToolPrompt.apply(tools.map { ($0.name, $0.description, $0.parametersJSON) }, to: messages)
    }

    /// The tool call in `text`, if it is one: `{"name": <a known tool>, "arguments": {...}}`.
    func toolCall(in text: String) -> (name: String, arguments: String)? {
        guard !tools.isEmpty, let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any],
              let name = object["name"] as? String, tools.contains(where: { $0.name == name }),
              let arguments = object["arguments"] as? [String: Any],
              let data = try? JSONSerialization.data(withJSONObject: arguments, options: [.sortedKeys, .withoutEscapingSlashes]) else { return nil }
        return (name, String(decoding: data, as: UTF8.self))
    }
}
