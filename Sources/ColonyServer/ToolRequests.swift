import ColonyEngine
import ColonyModels
import ColonyOpenAI

extension ChatCompletion {
    /// The chat-completion layer's view of a request: its messages, the tools and tool choice
    /// (`none` drops the tools), and `response_format: json_schema`. A schema the decoder
    /// cannot enforce, or a choice naming no tool, is a 400 naming the field.
    init(request: ChatCompletionRequest) throws(APIError) {
        var schema: JSONSchema?
        if let format = request.options.responseFormat, format.type == "json_schema" {
            guard let json = format.jsonSchema?.schema else {
                throw .badRequest("response_format.json_schema.schema is required", param: "response_format")
            }
            do { schema = try JSONSchema(json: json, path: "response_format.json_schema.schema") } catch {
                throw .badRequest(error.description, param: "response_format")
            }
        }
        var tools: [ChatTool] = []
        for (i, tool) in (request.tools ?? []).enumerated() {
            let parameters = tool.function.parameters ?? .object(["type": .string("object"), "properties": .object([:])])
            do {
                tools.append(
                    try ChatTool(
                        name: tool.function.name, description: tool.function.description ?? "",
                        parameters: parameters, path: "tools[\(i)].function.parameters"))
            } catch {
                throw .badRequest(error.description, param: "tools")
            }
        }
        let choice: ChatToolChoice
        switch request.toolChoice {
        case nil, .auto?: choice = .auto
        case .required?: choice = .required
        case .none?:
            choice = .auto
            tools = []
        case .function(let name)?: choice = .named(name)
        }
        let messages = request.messages.map { m in
            ChatMessage(
                role: m.role, content: m.content?.text ?? "",
                toolCalls: m.toolCalls.map { $0.map { .init(id: $0.id, name: $0.function.name, arguments: $0.function.arguments) } },
                toolCallID: m.toolCallID)
        }
        do {
            self = try ChatCompletion(messages: messages, tools: tools, toolChoice: choice, schema: schema)
            templateArguments = request.chatTemplateKwargs ?? [:]
        } catch {
            switch error {
            case .unknownToolChoice: throw .badRequest(error.description, param: "tool_choice")
            case .schemaWithForcedToolCall: throw .badRequest(error.description, param: "response_format")
            }
        }
    }
}
