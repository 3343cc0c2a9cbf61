import ColonyEngine
import Foundation

/// The fields both completion endpoints share (sampling, limits, stop, streaming, format),
/// with OpenAI's JSON names. Encoded and decoded flat, beside the endpoint's own fields.
public struct CompletionOptions: Codable, Sendable, Equatable {
    public var model: String?
    public var maxTokens: Int?
    public var maxCompletionTokens: Int?
    public var temperature: Float?
    public var topP: Float?
    public var topK: Int?
    public var minP: Float?
    public var presencePenalty: Float?
    public var frequencyPenalty: Float?
    public var repetitionPenalty: Float?
    public var seed: Int64?
    public var stop: Stop?
    public var stream: Bool?
    public var streamOptions: StreamOptions?
    public var n: Int?
    public var priority: Int?
    public var responseFormat: ResponseFormat?
    /// Never end at the model's end tokens (vLLM's extension; benchmark clients send it).
    public var ignoreEOS: Bool?
    /// Generate at least this many tokens before an end token may end the reply (vLLM's extension).
    public var minTokens: Int?
    /// The end user (OpenAI's field); a router keeps requests with the same one on one worker.
    public var user: String?

    enum CodingKeys: String, CodingKey {
        case model, temperature, seed, stop, stream, n, priority, user
        case maxTokens = "max_tokens"
        case maxCompletionTokens = "max_completion_tokens"
        case topP = "top_p"
        case topK = "top_k"
        case minP = "min_p"
        case presencePenalty = "presence_penalty"
        case frequencyPenalty = "frequency_penalty"
        case repetitionPenalty = "repetition_penalty"
        case streamOptions = "stream_options"
        case responseFormat = "response_format"
        case ignoreEOS = "ignore_eos"
        case minTokens = "min_tokens"
    }

    public init(
        model: String? = nil, maxTokens: Int? = nil, temperature: Float? = nil, seed: Int64? = nil,
        stream: Bool? = nil, streamOptions: StreamOptions? = nil
    ) {
        self.model = model
        self.maxTokens = maxTokens
        self.temperature = temperature
        self.seed = seed
        self.stream = stream
        self.streamOptions = streamOptions
    }

    /// `stop`: a string or a list of strings.
    public struct Stop: Codable, Sendable, Equatable {
        public var values: [String]
        public init(_ values: [String]) { self.values = values }
        public init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let one = try? c.decode(String.self) { values = [one] } else { values = try c.decode([String].self) }
        }
        public func encode(to encoder: Encoder) throws {
            var c = encoder.singleValueContainer()
            try c.encode(values)
        }
    }

    public struct StreamOptions: Codable, Sendable, Equatable {
        public var includeUsage: Bool?
        enum CodingKeys: String, CodingKey { case includeUsage = "include_usage" }
        public init(includeUsage: Bool?) { self.includeUsage = includeUsage }
    }

    /// `response_format`: `text`, `json_object`, or `json_schema` with its schema.
    public struct ResponseFormat: Codable, Sendable, Equatable {
        public var type: String
        public var jsonSchema: JSONSchemaFormat?
        enum CodingKeys: String, CodingKey {
            case type
            case jsonSchema = "json_schema"
        }
        public init(type: String, jsonSchema: JSONSchemaFormat? = nil) {
            self.type = type
            self.jsonSchema = jsonSchema
        }
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            type = try c.decode(String.self, forKey: .type)
            // Read leniently: a missing or malformed json_schema is reported as a missing schema.
            jsonSchema = try? c.decodeIfPresent(JSONSchemaFormat.self, forKey: .jsonSchema)
        }
    }

    /// `response_format.json_schema`: the schema (free-form JSON) and its name.
    public struct JSONSchemaFormat: Codable, Sendable, Equatable {
        public var name: String?
        public var schema: JSONValue?
        public var strict: Bool?
        public init(name: String? = nil, schema: JSONValue?, strict: Bool? = nil) {
            self.name = name
            self.schema = schema
            self.strict = strict
        }
        public init(from decoder: Decoder) throws {
            let members = try [String: JSONValue](from: decoder)
            name = members["name"]?.stringValue
            schema = members["schema"]
            if case .bool(let b)? = members["strict"] { strict = b }
        }
    }
}
