import ColonyEngine
import ColonyModels
import Foundation
import Hummingbird
import Logging

/// The OpenAI-compatible HTTP API over any `InferenceBackend` (the in-process `Engine`, or a router): chat and text completions (streamed
/// as server-sent events or not), the model list, health and Prometheus metrics.
///
/// ```swift
/// let server = OpenAIServer(engine: engine, modelName: "smollm2", template: .chatml(defaultSystemPrompt: nil))
/// try await server.run(host: "127.0.0.1", port: 8080)
/// ```
public struct OpenAIServer: Sendable {
    public let engine: any InferenceBackend
    public let modelName: String
    public let template: ChatTemplate?
    public let apiKey: String?
    /// Largest accepted request body.
    public var maxBodyBytes = 4 << 20
    let metrics = ServerMetrics()
    private let created = Int(Date().timeIntervalSince1970)
    private let logger = Logger(label: "colony.server")

    public init(engine: any InferenceBackend, modelName: String, template: ChatTemplate?, apiKey: String? = nil) {
        self.engine = engine
        self.modelName = modelName
        self.template = template
        self.apiKey = apiKey
    }

    /// The routes, with API-key checking when a key is set.
    public func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: APIKeyMiddleware(key: apiKey, metrics: metrics))
        router.get("/health") { _, _ in
            switch await engine.health {
            case .ready: return try json(["status": "ok"])
            case .degraded(let why): return try json(["status": "degraded", "detail": why])
            case .unavailable(let why): throw APIError(status: .serviceUnavailable, message: why, type: "server_error")
            }
        }
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                     body: .init(byteBuffer: ByteBuffer(string: metrics.render(await engine.stats))))
        }
        router.get("/v1/models") { _, _ in
            try json(ModelListBody(data: [.init(id: modelName, created: created)]))
        }
        router.post("/v1/chat/completions") { request, _ in try await counted { try await chat(request) } }
        router.post("/v1/completions") { request, _ in try await counted { try await complete(request) } }
        return router
    }

    /// Serves on `host:port` until SIGINT or SIGTERM, then stops accepting connections,
    /// lets the requests in flight finish and stops the engine.
    public func run(host: String, port: Int, onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        let app = Application(router: router(), configuration: .init(address: .hostname(host, port: port), serverName: "colony"),
                              onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? port) },
                              logger: logger)
        try await app.runService()
        await engine.shutdown(cancelInFlight: false)
    }

    // MARK: - Handlers

    private func counted(_ body: () async throws -> Response) async throws -> Response {
        do {
            let response = try await body()
            metrics.count("ok")
            return response
        } catch let error as APIError {
            metrics.count(Self.outcome(error.status))
            throw error
        }
    }

    private static func outcome(_ status: HTTPResponse.Status) -> String {
        switch status.code {
        case 400: "bad_request"
        case 401: "unauthorized"
        case 404: "not_found"
        case 429: "rejected"
        case 503: "unavailable"
        default: "error"
        }
    }

    private func body(_ request: Request) async throws(APIError) -> Data {
        var request = request
        do {
            let buffer = try await request.collectBody(upTo: maxBodyBytes)
            return Data(buffer.readableBytesView)
        } catch {
            throw APIError(status: .contentTooLarge, message: "the request body exceeds \(maxBodyBytes) bytes")
        }
    }

    private func checkModel(_ name: String?) throws(APIError) {
        if let name, name != modelName { throw .modelNotFound(name, served: modelName) }
    }

    func chat(_ request: Request) async throws -> Response {
        let data = try await body(request)
        let fields = try decodeBody(CommonFields.self, from: data)
        let chat = try decodeBody(ChatCompletionRequest.self, from: data)
        try checkModel(fields.model)
        guard let template else { throw APIError.badRequest("this model has no chat template; use /v1/completions") }
        let structured = try StructuredOutput(body: data)
        let messages = chat.messages.map { ChatMessage(role: $0.role, content: $0.text) }
        do { try template.validate(messages) } catch { throw APIError.badRequest(error.description, param: "messages") }
        let tokens = engine.tokenizer.encode(template.render(structured.withToolPrompt(messages)))
        return try await generate(tokens, fields, chat: true, extraStops: [template.endOfTurn], structured: structured)
    }

    func complete(_ request: Request) async throws -> Response {
        let data = try await body(request)
        let fields = try decodeBody(CommonFields.self, from: data)
        let completion = try decodeBody(CompletionRequest.self, from: data)
        try checkModel(fields.model)
        let tokens: [Int]
        switch completion.prompt {
        case .text(let text): tokens = engine.tokenizer.encode(text)
        case .tokens(let ids): tokens = ids
        }
        return try await generate(tokens, fields, chat: false, extraStops: [])
    }

    private func generate(_ tokens: [Int], _ fields: CommonFields, chat: Bool, extraStops: [String],
                          structured: StructuredOutput? = nil) async throws -> Response {
        let maxTokens = try fields.checkedMaxTokens()
        let id = (chat ? "chatcmpl-" : "cmpl-") + UUID().uuidString.lowercased()
        let limit = engine.maxContextTokens
        let request = EngineRequest(id: id, promptTokens: tokens, sampling: try fields.sampling(),
                                    maxTokens: maxTokens ?? max(1, limit - tokens.count),
                                    stopStrings: (fields.stop?.values ?? []) + extraStops,
                                    priority: fields.priority ?? 0, constraint: try structured?.constraint ?? fields.constraint())
        let stream: AsyncThrowingStream<EngineEvent, Error>
        do { stream = try await engine.submit(request) } catch { throw APIError(error) }

        let tools = structured.flatMap { $0.tools.isEmpty ? nil : $0 }
        if fields.stream == true {
            return sse(stream, id: id, chat: chat, includeUsage: fields.stream_options?.include_usage == true, tools: tools)
        }
        var text = ""
        var reason: FinishReason = .cancelled
        var usage = Usage(promptTokens: tokens.count, completionTokens: 0, cachedPromptTokens: 0)
        for try await event in stream {
            switch event {
            case .token(_, let piece): text += piece
            case .finished(let r, let u, let tail): text += tail; reason = r; usage = u
            }
        }
        let now = Int(Date().timeIntervalSince1970)
        if chat {
            let message: ChatCompletionBody.Message
            var finish = reason.openAI
            if let call = tools?.toolCall(in: text) {
                message = .init(role: "assistant", content: nil, tool_calls: [ToolCallBody(name: call.name, arguments: call.arguments)])
                finish = "tool_calls"
            } else {
                message = .init(role: "assistant", content: text, tool_calls: nil)
            }
            return try json(ChatCompletionBody(id: id, created: now, model: modelName,
                                               choices: [.init(index: 0, message: message, finish_reason: finish)],
                                               usage: UsageBody(usage)))
        }
        return try json(CompletionBody(id: id, created: now, model: modelName,
                                       choices: [.init(index: 0, text: text, finish_reason: reason.openAI)], usage: UsageBody(usage)))
    }

    /// Streams events as server-sent events. A client that goes away makes a write fail;
    /// leaving the loop drops the stream, which cancels the request in the engine. With
    /// tools the reply is held until it ends, then sent as a tool call or as text.
    private func sse(_ stream: AsyncThrowingStream<EngineEvent, Error>, id: String, chat: Bool, includeUsage: Bool,
                     tools: StructuredOutput?) -> Response {
        let model = modelName
        let created = Int(Date().timeIntervalSince1970)
        let body = ResponseBody { writer in
            let encoder = JSONEncoder()
            func send(_ value: some Encodable) async throws {
                var line = Data("data: ".utf8)
                line.append(try encoder.encode(value))
                line.append(contentsOf: Array("\n\n".utf8))
                try await writer.write(ByteBuffer(bytes: line))
            }
            func chunk(_ text: String?, role: String? = nil, finish: String? = nil, usage: Usage? = nil, calls: [ToolCallBody]? = nil) async throws {
                if chat {
                    let choices: [ChatChunkBody.Choice] = usage == nil || text != nil || finish != nil
                        ? [.init(index: 0, delta: .init(role: role, content: text, tool_calls: calls), finish_reason: finish)] : []
                    try await send(ChatChunkBody(id: id, created: created, model: model, choices: choices, usage: usage.map(UsageBody.init)))
                } else {
                    let choices: [CompletionBody.Choice] = usage == nil ? [.init(index: 0, text: text ?? "", finish_reason: finish)] : []
                    try await send(CompletionBody(id: id, created: created, model: model, choices: choices, usage: usage.map(UsageBody.init)))
                }
            }
            if chat { try await chunk("", role: "assistant") }
            var held = ""
            for try await event in stream {
                switch event {
                case .token(_, let text):
                    if tools != nil { held += text } else if !text.isEmpty { try await chunk(text) }
                case .finished(let reason, let usage, let tail):
                    if let tools {
                        held += tail
                        if let call = tools.toolCall(in: held) {
                            try await chunk(nil, calls: [ToolCallBody(name: call.name, arguments: call.arguments)])
                            try await chunk(nil, finish: "tool_calls")
                        } else {
                            try await chunk(held, finish: reason.openAI ?? "stop")
                        }
                    } else {
                        try await chunk(tail, finish: reason.openAI ?? "stop")
                    }
                    if includeUsage { try await chunk(nil, usage: usage) }
                }
            }
            try await writer.write(ByteBuffer(string: "data: [DONE]\n\n"))
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"], body: body)
    }
}

func json(_ value: some Encodable) throws -> Response {
    let data = try JSONEncoder().encode(value)
    return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
}

/// Requires `Authorization: Bearer KEY` on every route but /health when a key is set.
struct APIKeyMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext
    let key: String?
    let metrics: ServerMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let key, request.uri.path != "/health" else { return try await next(request, context) }
        guard request.headers[.authorization] == "Bearer \(key)" else {
            metrics.count("unauthorized")
            throw APIError.unauthorized
        }
        return try await next(request, context)
    }
}
