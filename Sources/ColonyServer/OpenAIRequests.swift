import ColonyEngine
import ColonyModels
import Foundation

/// `stop`: a string or a list of strings.
struct StopField: Decodable {
    let values: [String]
    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let one = try? c.decode(String.self) { values = [one] } else { values = try c.decode([String].self) }
    }
}

/// Message `content`: a string, or a list of parts of which the text parts are joined.
struct ContentField: Decodable {
    let text: String
    private struct Part: Decodable {
        let type: String
        let text: String?
    }
    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let s = try? c.decode(String.self) { text = s; return }
        if c.decodeNil() { text = ""; return }
        let parts = try c.decode([Part].self)
        if let bad = parts.first(where: { $0.type != "text" }) {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "content part type '\(bad.type)' is not supported; only 'text'")
        }
        text = parts.compactMap(\.text).joined()
    }
}

/// `prompt` of /v1/completions: a string, a list of one string, or a list of token ids.
enum PromptField: Decodable {
    case text(String)
    case tokens([Int])
    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let s = try? c.decode(String.self) { self = .text(s); return }
        if let ids = try? c.decode([Int].self) { self = .tokens(ids); return }
        let list = try c.decode([String].self)
        guard list.count == 1 else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "exactly one prompt per request is supported, got \(list.count)")
        }
        self = .text(list[0])
    }
}

/// Fields shared by both endpoints (OpenAI names).
struct CommonFields: Decodable {
    let model: String?
    let max_tokens: Int?
    let max_completion_tokens: Int?
    let temperature: Float?
    let top_p: Float?
    let top_k: Int?
    let min_p: Float?
    let presence_penalty: Float?
    let frequency_penalty: Float?
    let repetition_penalty: Float?
    let seed: Int64?
    let stop: StopField?
    let stream: Bool?
    let stream_options: StreamOptions?
    let n: Int?
    let priority: Int?
    let response_format: ResponseFormat?

    struct StreamOptions: Decodable { let include_usage: Bool? }
    struct ResponseFormat: Decodable { let type: String }

    /// Sampling parameters, validated: temperature defaults to 1 as in OpenAI's API.
    func sampling() throws(APIError) -> SamplingParameters {
        var p = SamplingParameters()
        p.temperature = temperature ?? 1
        p.topP = top_p ?? 1
        p.topK = top_k ?? 0
        p.minP = min_p ?? 0
        p.presencePenalty = presence_penalty ?? 0
        p.frequencyPenalty = frequency_penalty ?? 0
        p.repetitionPenalty = repetition_penalty ?? 1
        p.seed = UInt64(bitPattern: seed ?? Int64.random(in: 0...Int64.max))
        guard p.temperature <= 2 else { throw .badRequest("temperature must be between 0 and 2, got \(p.temperature)", param: "temperature") }
        do { try p.validate() } catch { throw .badRequest(error.description) }
        return p
    }

    func checkedMaxTokens() throws(APIError) -> Int? {
        let value = max_completion_tokens ?? max_tokens
        if let value, value <= 0 { throw .badRequest("max_tokens must be > 0, got \(value)", param: "max_tokens") }
        if let n, n != 1 { throw .badRequest("n must be 1, got \(n)", param: "n") }
        return value
    }

    func constraint() throws(APIError) -> OutputConstraint? {
        switch response_format?.type {
        case nil, "text", "json_schema": return nil // json_schema: see StructuredOutput
        case "json_object": return .jsonObject
        case let other?: throw .badRequest("response_format type '\(other)' is not supported; supported: text, json_object, json_schema", param: "response_format")
        }
    }
}

struct ChatCompletionRequest: Decodable {
    struct Message: Decodable {
        let role: String
        let content: ContentField?
        let tool_calls: [ToolCall]?

        /// The text the template shows: the content, or the calls an assistant made.
        var text: String {
            if let content { return content.text }
            return (tool_calls ?? []).map { #"{"name":"\#($0.function.name)","arguments":\#($0.function.arguments)}"# }.joined(separator: "\n")
        }
    }
    struct ToolCall: Decodable {
        struct Function: Decodable { let name: String; let arguments: String }
        let function: Function
    }
    let messages: [Message]
}

struct CompletionRequest: Decodable {
    let prompt: PromptField
}

/// Decodes a JSON body, turning decoding failures into 400s that name the field.
func decodeBody<T: Decodable>(_ type: T.Type, from data: Data) throws(APIError) -> T {
    do {
        return try JSONDecoder().decode(T.self, from: data)
    } catch let error as DecodingError {
        throw .badRequest(describe(error))
    } catch {
        throw .badRequest("invalid request body: \(error)")
    }
}

private func describe(_ error: DecodingError) -> String {
    func path(_ keys: [CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().trimmingCharacters(in: ["."])
    }
    switch error {
    case .typeMismatch(let type, let c):
        return "field '\(path(c.codingPath))' has the wrong type: expected \(type)"
    case .valueNotFound(let type, let c):
        return "field '\(path(c.codingPath))' must not be null: expected \(type)"
    case .keyNotFound(let key, let c):
        return "missing required field '\(path(c.codingPath + [key]))'"
    case .dataCorrupted(let c):
        if c.codingPath.isEmpty { return "the request body is not valid JSON" }
        return "field '\(path(c.codingPath))': \(c.debugDescription)"
    @unknown default:
        return "invalid request body"
    }
}
