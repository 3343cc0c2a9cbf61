import ColonyEngine
import ColonyModels
import ColonyOpenAI
import Foundation

/// Validation of the fields both endpoints share, as 400s that name the field.
extension CompletionOptions {
    /// Sampling parameters, validated: temperature defaults to 1 as in OpenAI's API.
    func sampling() throws(APIError) -> SamplingParameters {
        var p = SamplingParameters()
        p.temperature = temperature ?? 1
        p.topP = topP ?? 1
        p.topK = topK ?? 0
        p.minP = minP ?? 0
        p.presencePenalty = presencePenalty ?? 0
        p.frequencyPenalty = frequencyPenalty ?? 0
        p.repetitionPenalty = repetitionPenalty ?? 1
        p.seed = UInt64(bitPattern: seed ?? Int64.random(in: 0...Int64.max))
        guard p.temperature <= 2 else {
            throw .badRequest("temperature must be between 0 and 2, got \(p.temperature)", param: "temperature")
        }
        do { try p.validate() } catch { throw .badRequest(error.description) }
        return p
    }

    func checkedMaxTokens() throws(APIError) -> Int? {
        let value = maxCompletionTokens ?? maxTokens
        if let value, value <= 0 { throw .badRequest("max_tokens must be > 0, got \(value)", param: "max_tokens") }
        if let n, n != 1 { throw .badRequest("n must be 1, got \(n)", param: "n") }
        return value
    }

    /// `min_tokens`, checked against the request's effective `max_tokens` with the engine's wording.
    func checkedMinTokens(maxTokens: Int) throws(APIError) -> Int {
        let value = minTokens ?? 0
        guard (0...maxTokens).contains(value) else {
            throw .badRequest("min_tokens must be between 0 and max_tokens (\(maxTokens)), got \(value)", param: "min_tokens")
        }
        return value
    }

    func constraint() throws(APIError) -> OutputConstraint? {
        switch responseFormat?.type {
        case nil, "text", "json_schema": return nil  // json_schema: see ChatCompletion(request:)
        case "json_object": return .jsonObject
        case let other?:
            throw .badRequest(
                "response_format type '\(other)' is not supported; supported: text, json_object, json_schema",
                param: "response_format")
        }
    }
}

/// Decodes a JSON body, turning decoding failures into 400s that name the field.
func decodeBody<T: Decodable>(_ type: T.Type, from data: Data) throws(APIError) -> T {
    do {
        return try JSONDecoder().decode(T.self, from: data)
    } catch let error as DecodingError {
        throw .badRequest(describe(error))
    } catch let error as OpenAIRequestError {
        throw .badRequest(error.message, param: error.param)
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
