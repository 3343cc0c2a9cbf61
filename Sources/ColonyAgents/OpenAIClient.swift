import ColonyEngine
import ColonyHTTP
import ColonyModels
import ColonyOpenAI
import Foundation

/// Any OpenAI-compatible endpoint (`colony serve`, llama-server, vLLM) as an `LLMClient`.
/// Tools are sent with `tool_choice: "required"`; the server's own constrained decoding (or
/// its model) makes the call. Loopback endpoints only, like the load generator.
public struct OpenAIClient: LLMClient {
    public let endpoint: HTTPClient.Endpoint
    public let model: String
    public let apiKey: String?
    /// Sent with every request: a Colony router reads `x-colony-routing` (its strategy for
    /// this request) and `x-session-id`.
    public let headers: [String: String]

    public init(url: String, model: String, apiKey: String? = nil, headers: [String: String] = [:]) throws {
        endpoint = try HTTPClient.Endpoint(url: url)
        self.model = model
        self.apiKey = apiKey
        self.headers = headers
    }

    public func complete(_ request: LLMRequest) async throws -> LLMReply {
        var options = CompletionOptions(
            model: model, maxTokens: request.maxTokens, temperature: request.sampling.temperature,
            seed: Int64(bitPattern: request.sampling.seed))
        if request.priority != 0 { options.priority = request.priority }
        var body = ChatCompletionRequest(options: options, messages: request.messages.map { .init(role: $0.role, content: $0.content) })
        if !request.tools.isEmpty {
            body.toolChoice = .required
            body.tools = try request.tools.map { tool in
                guard let parameters = JSONValue(parsing: tool.parametersJSON) else {
                    throw AgentError.toolParametersNotJSON(tool: tool.name, parameters: tool.parametersJSON)
                }
                return ToolDefinition(function: .init(name: tool.name, description: tool.description, parameters: parameters))
            }
        }
        let response = try await post("/v1/chat/completions", try JSONEncoder().encode(body))
        guard response.status == 200, let reply = try? JSONDecoder().decode(ChatCompletionResponse.self, from: response.body),
            let message = reply.choices.first?.message
        else {
            throw AgentError.endpointStatus(response.status, body: String(decoding: response.body.prefix(300), as: UTF8.self))
        }
        let calls = (message.toolCalls ?? []).map { ToolCall(name: $0.function.name, arguments: $0.function.arguments) }
        var out = LLMReply(
            text: message.content ?? "", toolCalls: calls,
            promptTokens: reply.usage?.promptTokens ?? 0, completionTokens: reply.usage?.completionTokens ?? 0)
        out.responseID = reply.id
        out.servedBy = reply.model
        return out
    }

    /// POSTs JSON to `path` with this client's headers and key, off the cooperative pool
    /// (the HTTP client blocks on its socket).
    private func post(_ path: String, _ data: Data) async throws -> HTTPClient.Response {
        var headers = self.headers.merging(["Content-Type": "application/json"]) { _, json in json }
        if let apiKey { headers["Authorization"] = "Bearer \(apiKey)" }
        let (endpoint, sent) = (self.endpoint, headers)
        return try await withCheckedThrowingContinuation { (c: CheckedContinuation<HTTPClient.Response, Error>) in
            Thread.detachNewThread {
                do { c.resume(returning: try HTTPClient.send("POST", endpoint, path: path, headers: sent, body: data)) } catch {
                    c.resume(throwing: error)
                }
            }
        }
    }
}

extension OpenAIClient: OutcomeReporting {
    /// Posts the outcome to the server's `/v1/feedback` (a Colony server; others answer 404,
    /// which is reported as an error).
    public func report(response id: String, reward: Double, success: Bool) async throws {
        let body: [String: Any] = ["id": id, "reward": reward, "success": success]
        let response = try await post("/v1/feedback", try JSONSerialization.data(withJSONObject: body, options: .sortedKeys))
        guard response.status == 200 else {
            throw AgentError.endpointStatus(response.status, body: String(decoding: response.body.prefix(300), as: UTF8.self))
        }
    }
}
