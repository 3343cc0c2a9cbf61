import ColonyEngine
import ColonyOpenAI
import Foundation
import Testing

/// Compact JSON with sorted keys, to compare encodings as text.
private func text(_ value: some Encodable) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return String(decoding: try encoder.encode(value), as: UTF8.self)
}

private func decode<T: Decodable>(_ type: T.Type, _ json: String) throws -> T {
    try JSONDecoder().decode(T.self, from: Data(json.utf8))
}

@Suite("OpenAI wire types")
struct WireTypesTests {
    @Test("a chat request decodes every field under its OpenAI name")
    func chatRequestDecodes() throws {
        let r = try decode(
            ChatCompletionRequest.self,
            #"""
            {"model":"m","max_tokens":5,"max_completion_tokens":6,"temperature":0.5,"top_p":0.9,"top_k":4,"min_p":0.1,
             "presence_penalty":0.2,"frequency_penalty":0.3,"repetition_penalty":1.1,"seed":7,"stop":"END","stream":true,
             "stream_options":{"include_usage":true},"n":1,"priority":3,"ignore_eos":true,"min_tokens":2,
             "response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"string"}}},
             "messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]},
                         {"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function",
                          "function":{"name":"add","arguments":"{\"a\":1}"}}]},
                         {"role":"tool","content":"2","tool_call_id":"c1"}],
             "tools":[{"type":"function","function":{"name":"add","description":"Add.","parameters":{"type":"object"}}}],
             "tool_choice":{"type":"function","function":{"name":"add"}}}
            """#)
        let o = r.options
        #expect(o.model == "m" && o.maxTokens == 5 && o.maxCompletionTokens == 6 && o.temperature == 0.5 && o.topP == 0.9)
        #expect(o.topK == 4 && o.minP == 0.1 && o.presencePenalty == 0.2 && o.frequencyPenalty == 0.3 && o.repetitionPenalty == 1.1)
        #expect(o.seed == 7 && o.stop == .init(["END"]) && o.stream == true && o.streamOptions?.includeUsage == true)
        #expect(o.n == 1 && o.priority == 3 && o.ignoreEOS == true && o.minTokens == 2)
        #expect(o.responseFormat == .init(type: "json_schema", jsonSchema: .init(name: "x", schema: .object(["type": .string("string")]))))
        #expect(r.messages.map(\.content?.text) == ["ab", nil, "2"])
        #expect(r.messages[1].toolCalls?.map(\.function) == [.init(name: "add", arguments: #"{"a":1}"#)])
        #expect(r.messages[2].toolCallID == "c1")
        #expect(
            r.tools == [ToolDefinition(function: .init(name: "add", description: "Add.", parameters: .object(["type": .string("object")])))]
        )
        #expect(r.toolChoice == .function("add"))
    }

    @Test("a chat request encodes to the keys the server reads, and decodes back to itself")
    func chatRequestRoundTrip() throws {
        var r = ChatCompletionRequest(
            options: CompletionOptions(
                model: "m", maxTokens: 8, temperature: 0, seed: 1, stream: true, streamOptions: .init(includeUsage: true)),
            messages: [.init(role: "user", content: "hi")])
        r.tools = [ToolDefinition(function: .init(name: "f", description: nil, parameters: .object([:])))]
        r.toolChoice = .required
        #expect(
            try text(r) == #"{"max_tokens":8,"messages":[{"content":"hi","role":"user"}],"model":"m","seed":1,"stream":true,"#
                + #""stream_options":{"include_usage":true},"temperature":0,"tool_choice":"required","#
                + #""tools":[{"function":{"name":"f","parameters":{}},"type":"function"}]}"#)
        let back = try JSONDecoder().decode(ChatCompletionRequest.self, from: JSONEncoder().encode(r))
        #expect(back == r)
    }

    @Test(
        "malformed tools and tool choices are refused with today's messages",
        arguments: [
            (#""tools":{"a":1}"#, OpenAIRequestError("tools must be a list of objects", param: "tools")),
            (#""tools":null"#, OpenAIRequestError("tools must be a list of objects", param: "tools")),
            (
                #""tools":[{"type":"function","function":{"name":""}}]"#,
                OpenAIRequestError(#"tools[0] must be {"type": "function", "function": {"name": ...}}"#, param: "tools")
            ),
            (
                #""tool_choice":"maybe""#,
                OpenAIRequestError("tool_choice must be none, auto, required or a function, got 'maybe'", param: "tool_choice")
            ),
            (
                #""tool_choice":{"type":"function"}"#,
                OpenAIRequestError(
                    #"tool_choice must name a function: {"type": "function", "function": {"name": ...}}"#, param: "tool_choice")
            ),
            (#""tool_choice":3"#, OpenAIRequestError("tool_choice must be a string or an object", param: "tool_choice")),
        ])
    func refusals(field: String, error: OpenAIRequestError) {
        #expect(throws: error) {
            try decode(ChatCompletionRequest.self, #"{"messages":[{"role":"user","content":"x"}],"# + field + "}")
        }
    }

    @Test("tool_choice strings decode, and a none choice encodes back")
    func toolChoices() throws {
        for (json, choice) in [("none", ToolChoice.none), ("auto", .auto), ("required", .required)] {
            #expect(try decode(ToolChoice.self, "\"\(json)\"") == choice)
            #expect(try text(choice) == "\"\(json)\"")
        }
        #expect(try text(ToolChoice.function("f")) == #"{"function":{"name":"f"},"type":"function"}"#)
    }

    @Test("a text completion's prompt is a string, one string in a list, or token ids")
    func prompts() throws {
        #expect(try decode(CompletionRequest.self, #"{"prompt":"a"}"#).prompt == .text("a"))
        #expect(try decode(CompletionRequest.self, #"{"prompt":["a"]}"#).prompt == .text("a"))
        #expect(
            try decode(CompletionRequest.self, #"{"prompt":[1,2],"max_tokens":3}"#)
                == CompletionRequest(
                    options: CompletionOptions(maxTokens: 3), prompt: .tokens([1, 2])))
        #expect(throws: DecodingError.self) { try decode(CompletionRequest.self, #"{"prompt":["a","b"]}"#) }
    }

    @Test("replies encode with OpenAI's keys; absent values are left out")
    func replies() throws {
        let call = ToolCall(index: 0, id: "call_1", type: "function", function: .init(name: "add", arguments: #"{"a":1}"#))
        let chat = ChatCompletionResponse(
            id: "c", created: 1, model: "m",
            choices: [
                .init(
                    index: 0, message: .init(role: "assistant", content: nil, toolCalls: [call]),
                    finishReason: "tool_calls")
            ],
            usage: UsageBody(promptTokens: 3, completionTokens: 2, cachedTokens: 1))
        #expect(
            try text(chat) == #"{"choices":[{"finish_reason":"tool_calls","index":0,"message":{"role":"assistant","tool_calls":"#
                + #"[{"function":{"arguments":"{\"a\":1}","name":"add"},"id":"call_1","index":0,"type":"function"}]}}],"#
                + #""created":1,"id":"c","model":"m","object":"chat.completion","#
                + #""usage":{"completion_tokens":2,"prompt_tokens":3,"prompt_tokens_details":{"cached_tokens":1},"total_tokens":5}}"#)
        let chunk = ChatCompletionChunk(
            id: "c", created: 1, model: "m",
            choices: [.init(index: 0, delta: .init(role: "assistant", content: ""), finishReason: nil)], usage: nil)
        #expect(
            try text(chunk) == #"{"choices":[{"delta":{"content":"","role":"assistant"},"index":0}],"created":1,"id":"c","#
                + #""model":"m","object":"chat.completion.chunk"}"#)
        let completion = CompletionResponse(
            id: "t", created: 2, model: "m", choices: [.init(index: 0, text: "x", finishReason: "length")],
            usage: nil)
        #expect(
            try text(completion) == #"{"choices":[{"finish_reason":"length","index":0,"text":"x"}],"created":2,"id":"t","#
                + #""model":"m","object":"text_completion"}"#)
        #expect(
            try text(ModelList(data: [.init(id: "m", created: 3, ownedBy: "colony")]))
                == #"{"data":[{"created":3,"id":"m","object":"model","owned_by":"colony"}],"object":"list"}"#)
        #expect(
            try text(ErrorBody(error: .init(message: "no", type: "invalid_request_error", param: nil, code: nil)))
                == #"{"error":{"message":"no","type":"invalid_request_error"}}"#)
        #expect(try JSONDecoder().decode(ChatCompletionResponse.self, from: JSONEncoder().encode(chat)) == chat)
    }

    @Test("a server's tool call id is call_ and 24 lowercase hex digits")
    func replyCallID() throws {
        let call = ToolCall.reply(name: "f", arguments: "{}")
        let id = try #require(call.id)
        #expect(id.hasPrefix("call_") && id.count == 29)
        #expect(id.dropFirst(5).allSatisfy { "0123456789abcdef".contains($0) })
        #expect(call.index == 0 && call.type == "function" && call.function == .init(name: "f", arguments: "{}"))
    }
}
