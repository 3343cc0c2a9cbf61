import ColonyHTTP
import ColonyModels
import Foundation

/// Any OpenAI-compatible endpoint (`colony serve`, llama-server, vLLM) as an `LLMClient`.
/// Tools are sent with `tool_choice: "required"`; the server's own constrained decoding (or
/// its model) makes the call. Loopback endpoints only, like the load generator.
public struct OpenAIClient: LLMClient {
    public let endpoint: HTTPClient.Endpoint
    public let model: String
    public let apiKey: String?

    public init(url: String, model: String, apiKey: String? = nil) throws {
        endpoint = try HTTPClient.Endpoint(url: url)
        self.model = model
        self.apiKey = apiKey
    }

    public func complete(_ request: LLMRequest) async throws -> LLMReply {
        var body: [String: Any] = [
            "model": model, "max_tokens": request.maxTokens, "temperature": request.sampling.temperature,
            "seed": Int64(bitPattern: request.sampling.seed),
            "messages": request.messages.map { ["role": $0.role, "content": $0.content] },
        ]
        if !request.tools.isEmpty {
            body["tool_choice"] = "required"
            body["tools"] = try request.tools.map { tool -> [String: Any] in
                ["type": "function", "function": ["name": tool.name, "description": tool.description,
                                                  "parameters": try JSONSerialization.jsonObject(with: Data(tool.parametersJSON.utf8))]]
            }
        }
        let data = try JSONSerialization.data(withJSONObject: body)
        var headers = ["Content-Type": "application/json"]
        if let apiKey { headers["Authorization"] = "Bearer \(apiKey)" }
        let endpoint = self.endpoint
        let sentHeaders = headers
        let response = try await withCheckedThrowingContinuation { (c: CheckedContinuation<HTTPClient.Response, Error>) in
            Thread.detachNewThread { // the client blocks on its socket
                do { c.resume(returning: try HTTPClient.send("POST", endpoint, path: "/v1/chat/completions", headers: sentHeaders, body: data)) } catch { c.resume(throwing: error) }
            }
        }
        guard response.status == 200, let object = try JSONSerialization.jsonObject(with: response.body) as? [String: Any],
              let message = ((object["choices"] as? [[String: Any]])?.first?["message"]) as? [String: Any] else {
            throw AgentError(description: "the endpoint answered HTTP \(response.status): \(String(decoding: response.body.prefix(300), as: UTF8.self))")
        }
        let usage = object["usage"] as? [String: Any]
        let calls = (message["tool_calls"] as? [[String: Any]] ?? []).compactMap { call -> ToolCall? in
            guard let f = call["function"] as? [String: Any], let name = f["name"] as? String else { return nil }
            return ToolCall(name: name, arguments: f["arguments"] as? String ?? "{}")
        }
        return LLMReply(text: message["content"] as? String ?? "", toolCalls: calls,
                        promptTokens: usage?["prompt_tokens"] as? Int ?? 0, completionTokens: usage?["completion_tokens"] as? Int ?? 0)
    }
}
