import ColonyModels
import Foundation
import Testing

@testable import ColonyEngine

@Suite("chat-completion layer: tools, constraint, tool-call parsing")
struct ChatCompletionTests {
    static let add = try! ChatTool(
        name: "add", description: "Add two numbers.",
        parameters: .object([
            "type": .string("object"),
            "properties": .object(["b": .object(["type": .string("integer")]), "a": .object(["type": .string("integer")])]),
        ]),
        path: "add.parameters")
    static let echo = ChatTool(name: "echo", description: "", parametersJSON: #"{"type":"object"}"#, parameters: .anyObject)
    let user = [ChatMessage(role: "user", content: "2 + 3?")]

    @Test("a tool built from JSON shows its schema compact with sorted keys and parses it")
    func toolFromJSON() {
        #expect(Self.add.parametersJSON == #"{"properties":{"a":{"type":"integer"},"b":{"type":"integer"}},"type":"object"}"#)
        #expect(Self.add.parameters == .object([.init(name: "a", schema: .integer), .init(name: "b", schema: .integer)]))
    }

    @Test("an unsupported parameter schema is refused with its path")
    func unsupportedParameters() {
        #expect(
            throws: JSONSchema.Unsupported(
                description: "t.parameters uses 'oneOf', which constrained decoding does not support; "
                    + "supported: type, properties, items, enum, const")
        ) {
            try ChatTool(name: "t", description: "", parameters: .object(["oneOf": .array([])]), path: "t.parameters")
        }
    }

    @Test("the constraint follows the tool choice and the schema")
    func constraint() throws {
        let both = [Self.add, Self.echo]
        let calls: [JSONSchema.Tool] = both.map { .init(name: $0.name, parameters: $0.parameters) }
        #expect(try ChatCompletion(messages: user, tools: both, toolChoice: .required).constraint == .jsonSchema(.toolCall(calls)))
        #expect(
            try ChatCompletion(messages: user, tools: both, toolChoice: .named("echo")).constraint
                == .jsonSchema(.toolCall([calls[1]])))
        #expect(try ChatCompletion(messages: user, tools: both).constraint == nil)
        #expect(try ChatCompletion(messages: user, toolChoice: .required).constraint == nil, "required without tools forces nothing")
        #expect(try ChatCompletion(messages: user, tools: both, schema: .string).constraint == .jsonSchema(.string))
        #expect(try ChatCompletion(messages: user, schema: .integer).constraint == .jsonSchema(.integer))
    }

    @Test("forcesToolCall is true only when decoding is constrained to a call")
    func forcesToolCall() throws {
        #expect(try ChatCompletion(messages: user, tools: [Self.add], toolChoice: .required).forcesToolCall)
        #expect(try ChatCompletion(messages: user, tools: [Self.add], toolChoice: .named("add")).forcesToolCall)
        #expect(try !ChatCompletion(messages: user, tools: [Self.add]).forcesToolCall)
        #expect(try !ChatCompletion(messages: user, toolChoice: .required).forcesToolCall)
    }

    @Test("a choice naming no tool, or a schema with a forced call, is refused")
    func refusals() {
        #expect(throws: ChatCompletionError.unknownToolChoice("mul")) {
            try ChatCompletion(messages: user, tools: [Self.add], toolChoice: .named("mul"))
        }
        #expect(ChatCompletionError.unknownToolChoice("mul").description == "tool_choice names 'mul', which is not in tools")
        #expect(throws: ChatCompletionError.schemaWithForcedToolCall) {
            try ChatCompletion(messages: user, tools: [Self.add], toolChoice: .required, schema: .string)
        }
        #expect(
            ChatCompletionError.schemaWithForcedToolCall.description
                == "response_format json_schema and a required tool call cannot be combined")
    }

    @Test("the tool prompt goes into the system message, or becomes one")
    func toolPrompt() throws {
        let chat = try ChatCompletion(messages: user, tools: [Self.add])
        #expect(chat.promptMessages.count == 2)
        #expect(chat.promptMessages[0].role == "system")
        #expect(chat.promptMessages[0].content == ToolPrompt.render([("add", "Add two numbers.", Self.add.parametersJSON)]))
        #expect(chat.promptMessages[1] == user[0])
        let withSystem = try ChatCompletion(messages: [ChatMessage(role: "system", content: "Be brief.")] + user, tools: [Self.add])
        #expect(withSystem.promptMessages.count == 2)
        #expect(withSystem.promptMessages[0].content.hasPrefix("Be brief.\n\nTools:\n- add: Add two numbers. parameters {"))
        #expect(try ChatCompletion(messages: user).promptMessages == user, "no tools, no block")
    }

    @Test(
        "tool calls are parsed from replies",
        arguments: [
            (#"{"name":"add","arguments":{"b":3,"a":2}}"#, ChatToolCall(name: "add", arguments: #"{"a":2,"b":3}"#)),
            (#" {"arguments": {"path": "a/b"}, "name": "echo"} "#, ChatToolCall(name: "echo", arguments: #"{"path":"a/b"}"#)),
            (#"{"name":"mul","arguments":{}}"#, nil),
            (#"{"name":"add","arguments":"{}"}"#, nil),
            (#"{"name":"add"}"#, nil),
            (#"{"name":"add","arguments":{"a":1"#, nil),
            ("The answer is 5.", nil),
        ] as [(String, ChatToolCall?)])
    func parsing(reply: String, expected: ChatToolCall?) throws {
        #expect(try ChatCompletion(messages: user, tools: [Self.add, Self.echo]).toolCall(in: reply) == expected)
    }

    @Test("without tools nothing parses as a call")
    func noTools() throws {
        #expect(try ChatCompletion(messages: user).toolCall(in: #"{"name":"add","arguments":{}}"#) == nil)
    }

    @Test("a forced call through the engine comes back parsed, with the end-of-turn stop and usage")
    func forcedCallThroughEngine() async throws {
        let engine = try Tiny.engine()
        let file = try GGUFFile(contentsOf: Tiny.path)
        let model = ChatModel(backend: engine, template: try ChatTemplate(gguf: file))
        // Bounded arguments (an enum and a boolean): a tiny model's integers may never end.
        let set = try ChatTool(
            name: "set", description: "",
            parameters: .object([
                "type": .string("object"),
                "properties": .object([
                    "m": .object(["enum": .array([.string("a"), .string("b")])]), "on": .object(["type": .string("boolean")]),
                ]),
            ]), path: "set.parameters")
        let chat = try ChatCompletion(messages: user, tools: [set], toolChoice: .named("set"))
        let request = try model.request(chat, maxTokens: 10)
        #expect(request.constraint == chat.constraint)
        #expect(request.stopStrings == [model.template.endOfTurn])
        #expect(request.promptTokens == engine.tokenizer.encode(try model.template.render(chat.promptMessages)))
        let reply = try await model.complete(chat, maxTokens: 64)
        let call = try #require(reply.toolCall, "a constrained reply of 64 tokens is a whole call: \(reply.text)")
        #expect(call.name == "set")
        let arguments = try #require(JSONValue(parsing: call.arguments)?.objectValue)
        #expect(Set(arguments.keys) == ["m", "on"])
        #expect(reply.text == "")
        #expect(reply.usage.promptTokens == request.promptTokens.count)
        await engine.shutdown(cancelInFlight: true)
    }

    @Test("a template with tool syntax gets the tools itself, and a forced call starts in the family's format")
    func nativeTools() async throws {
        let engine = try Tiny.engine()
        let hermes = try ChatTemplate(
            jinja: """
                {%- for t in tools or [] %}<tool>{{ t.function.name }}:{{ t.function.parameters | tojson }}</tool>{% endfor %}
                {%- for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}
                {%- if add_generation_prompt %}<|im_start|>assistant\n{% endif %}{# <tool_call> #}
                """)
        let model = ChatModel(backend: engine, template: hermes)
        var chat = try ChatCompletion(messages: user, tools: [Self.add], toolChoice: .auto)
        chat.toolFormat = ToolCallFormat(template: hermes.source)
        #expect(chat.toolFormat == .hermes)
        let auto = try model.promptText(chat)
        #expect(auto.hasPrefix(#"<tool>add:{"properties":"#), "the template lays the tools out, not the system message")
        #expect(auto.hasSuffix("<|im_start|>assistant\n"))
        #expect(!auto.contains("Tools:"))
        chat.toolChoice = .required
        #expect(try model.promptText(chat) == auto + "<tool_call>\n")
        #expect(ToolCallFormat.mistral.callOpener == "[TOOL_CALLS][")
        await engine.shutdown(cancelInFlight: true)
    }
}

@Suite("JSONValue")
struct JSONValueTests {
    @Test("parses every kind of value and writes it back compact with sorted keys")
    func roundTrip() throws {
        let text = #"{"z":null,"a":[true,false,1,-2,1.5,"s/t"],"m":{"y":{},"x":[]}}"#
        let value = try #require(JSONValue(parsing: text))
        #expect(
            value
                == .object([
                    "z": .null, "a": .array([.bool(true), .bool(false), .int(1), .int(-2), .double(1.5), .string("s/t")]),
                    "m": .object(["y": .object([:]), "x": .array([])]),
                ]))
        #expect(value.encoded() == #"{"a":[true,false,1,-2,1.5,"s/t"],"m":{"x":[],"y":{}},"z":null}"#)
        #expect(JSONValue(parsing: "{nope") == nil)
    }

    @Test("a schema from a JSONValue equals the same schema from JSONSerialization objects")
    func schemaFromValue() throws {
        let text = #"{"type":"object","properties":{"n":{"type":"integer"},"c":{"enum":["red","a/b",3,true,null]}}}"#
        let fromValue = try JSONSchema(json: try #require(JSONValue(parsing: text)))
        let fromAny = try JSONSchema(json: try JSONSerialization.jsonObject(with: Data(text.utf8)))
        #expect(fromValue == fromAny)
        #expect(
            fromValue
                == .object([
                    .init(name: "c", schema: .oneOf([#""red""#, #""a\/b""#, "3", "true", "null"])),
                    .init(name: "n", schema: .integer),
                ]))
    }
}
