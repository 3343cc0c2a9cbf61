import ColonyEngine
import ColonyModels
import ColonyOpenAI
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
    /// How the model writes tool calls and reasoning, so `tool_choice: auto` replies are read
    /// in its own format (from its template: `ToolCallFormat(template:)`).
    public var toolFormat = ToolCallFormat.json
    /// The registry version served (`NAME@ID`), named on every completion in an
    /// `x-colony-model-version` header; nil for a model given as a path.
    public var modelVersion: String?
    /// Which version runs each request; nil: `modelName` alone (at `modelVersion`).
    public var catalog: (any ModelCatalog)?
    /// Outcomes per version: responses given and the feedback posted for them.
    public let feedback = FeedbackLedger()
    /// Extra read-only JSON routes, path → body (a router's `/v1/cluster`), so that the server
    /// serves what a backend knows without importing its module.
    public var statusRoutes: [String: @Sendable () async throws -> Data] = [:]
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
    public func router() -> Router<ServerRequestContext> {
        let router = Router(context: ServerRequestContext.self)
        router.add(middleware: ClosingOversizedRequests())
        router.add(middleware: APIKeyMiddleware(key: apiKey, metrics: metrics))
        router.get("/health") { _, _ in
            switch await engine.health {
            case .ready: return try json(["status": "ok"])
            case .degraded(let why): return try json(["status": "degraded", "detail": why])
            case .unavailable(let why): throw APIError(status: .serviceUnavailable, message: why, type: "server_error")
            }
        }
        router.get("/metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                body: .init(byteBuffer: ByteBuffer(string: metrics.render(await engine.stats, await engine.metricSamples))))
        }
        router.get("/v1/models") { _, _ in
            try json(ModelList(data: await models.names().map { .init(id: $0, created: created, ownedBy: "colony") }))
        }
        router.post("/v1/feedback") { request, _ in try await giveFeedback(request) }
        router.get("/v1/feedback") { _, _ in try json(FeedbackReport(await feedback.snapshot())) }
        for (path, body) in statusRoutes {
            router.get(RouterPath(path)) { _, _ in
                Response(
                    status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: try await body())))
            }
        }
        router.post("/v1/chat/completions") { request, _ in try await counted { try await chat(request) } }
        router.post("/v1/completions") { request, _ in try await counted { try await complete(request) } }
        return router
    }

    /// Serves on `host:port` until SIGINT or SIGTERM, then stops accepting connections,
    /// lets the requests in flight finish and stops the engine.
    public func run(host: String, port: Int, onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        let app = Application(
            router: router(), configuration: .init(address: .hostname(host, port: port), serverName: "colony"),
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

    /// The catalog in use: the one given, else this server's one model.
    private var models: any ModelCatalog { catalog ?? SingleModel(name: modelName, version: modelVersion) }

    func giveFeedback(_ request: Request) async throws -> Response {
        let given = try decodeBody(FeedbackRequest.self, from: try await body(request))
        try given.validate()
        let version = try await feedback.record(id: given.id, reward: given.reward, success: given.success)
        await models.outcomesChanged(feedback)
        return try json(["id": given.id, "version": version])
    }

    func chat(_ request: Request) async throws -> Response {
        let data = try await body(request)
        let wire = try decodeBody(ChatCompletionRequest.self, from: data)
        guard let template else { throw APIError.badRequest("this model has no chat template; use /v1/completions") }
        var chat = try ChatCompletion(request: wire)
        chat.toolFormat = toolFormat
        do { try template.validate(chat.messages) } catch { throw APIError.badRequest(error.description, param: "messages") }
        let model = ChatModel(backend: engine, template: template)
        let prompt: String
        do { prompt = try model.promptText(chat) } catch { throw APIError.badRequest(error.description, param: "messages") }
        // A template that opens a <think> block for the model (DeepSeek R1) starts the reply in reasoning.
        let opensReasoning = prompt.trimmingWhitespace().hasSuffix("<think>")
        return try await generate(
            template.encode(prompt, tokenizer: engine.tokenizer), wire.options, chat: true, extraStops: model.stopStrings, from: request,
            completion: chat, opensReasoning: opensReasoning)
    }

    func complete(_ request: Request) async throws -> Response {
        let data = try await body(request)
        let completion = try decodeBody(CompletionRequest.self, from: data)
        let tokens: [Int]
        switch completion.prompt {
        case .text(let text): tokens = engine.tokenizer.encode(text)
        case .tokens(let ids): tokens = ids
        }
        return try await generate(tokens, completion.options, chat: false, extraStops: [], from: request)
    }

    /// The conversation a request belongs to: the `x-session-id` header, else the `user` field.
    private func session(_ request: Request, _ fields: CompletionOptions) -> String? {
        request.headers.first { $0.name.canonicalName == "x-session-id" }?.value ?? fields.user
    }

    /// Runs one request for either endpoint; `completion` is the chat layer's view of a chat
    /// request. The HTTP request's headers carry the hints a router reads (session, routing).
    private func generate(
        _ tokens: [Int], _ fields: CompletionOptions, chat: Bool, extraStops: [String], from http: Request,
        completion: ChatCompletion? = nil, opensReasoning: Bool = false
    ) async throws -> Response {
        let maxTokens = try fields.checkedMaxTokens()
        let id = (chat ? "chatcmpl-" : "cmpl-") + UUID().uuidString.lowercased()
        let sessionKey = session(http, fields)
        let served = try await models.select(model: fields.model, session: sessionKey, key: id)
        let limit = engine.maxContextTokens
        let effectiveMaxTokens = maxTokens ?? max(1, limit - tokens.count)
        var request = EngineRequest(
            id: id, promptTokens: tokens, sampling: try fields.sampling(),
            maxTokens: effectiveMaxTokens,
            stopStrings: (fields.stop?.values ?? []) + extraStops,
            priority: fields.priority ?? 0, constraint: try completion?.constraint ?? fields.constraint(),
            minTokens: try fields.checkedMinTokens(maxTokens: effectiveMaxTokens),
            ignoreEOS: fields.ignoreEOS ?? false, session: sessionKey)
        request.adapter = served.adapter
        request.routing = http.headers.first { $0.name.canonicalName == "x-colony-routing" }?.value
        let stream: AsyncThrowingStream<EngineEvent, Error>
        let (ledger, arrival) = (feedback, request.arrival)
        let outcome: @Sendable (Bool) async -> Void = { failed in
            await ledger.served(
                response: id, version: served.version ?? served.name, latency: Date().timeIntervalSince(arrival), failed: failed)
        }
        do { stream = metrics.timed(try await engine.submit(request), since: request.arrival) } catch {
            await outcome(true)
            throw APIError(error)
        }
        var response = try await respond(
            stream, id: id, model: served.name, chat: chat, fields: fields, tokens: tokens, completion: completion,
            opensReasoning: opensReasoning, outcome: outcome)
        if let version = served.version { response.headers[.init("x-colony-model-version")!] = version }
        return response
    }

    /// The response to a request whose stream has started: streamed, or collected whole.
    /// `outcome` is told once, at the end, whether the request failed.
    private func respond(
        _ stream: AsyncThrowingStream<EngineEvent, Error>, id: String, model modelName: String, chat: Bool, fields: CompletionOptions,
        tokens: [Int], completion: ChatCompletion?, opensReasoning: Bool, outcome: @escaping @Sendable (Bool) async -> Void
    ) async throws -> Response {

        if fields.stream == true {
            let parser = completion.map {
                ChatStreamParser(format: $0.toolFormat, tools: Set($0.tools.map(\.name)), opensReasoning: opensReasoning)
            }
            return sse(
                stream, id: id, model: modelName, chat: chat, includeUsage: fields.streamOptions?.includeUsage == true, parser: parser,
                outcome: outcome)
        }
        let reply: CollectedReply
        do { reply = try await CollectedReply.collect(stream, promptTokens: tokens.count) } catch {
            await outcome(true)
            throw error
        }
        await outcome(false)
        let (text, reason, usage) = (reply.text, reply.finishReason, reply.usage)
        let now = Int(Date().timeIntervalSince1970)
        if chat {
            let message: ChatCompletionResponse.Message
            var finish = reason.openAI
            let parsed = completion?.reply(parsing: text) ?? ToolCallFormat.Reply(content: text)
            if !parsed.calls.isEmpty {
                message = .init(
                    role: "assistant", content: parsed.content.isEmpty ? nil : parsed.content,
                    toolCalls: parsed.calls.enumerated().map { .reply(name: $1.name, arguments: $1.arguments, index: $0) },
                    reasoningContent: parsed.reasoning)
                finish = "tool_calls"
            } else {
                message = .init(role: "assistant", content: parsed.content, toolCalls: nil, reasoningContent: parsed.reasoning)
            }
            return try json(
                ChatCompletionResponse(
                    id: id, created: now, model: modelName,
                    choices: [.init(index: 0, message: message, finishReason: finish)],
                    usage: UsageBody(usage)))
        }
        return try json(
            CompletionResponse(
                id: id, created: now, model: modelName,
                choices: [.init(index: 0, text: text, finishReason: reason.openAI)], usage: UsageBody(usage)))
    }

    /// Streams events as server-sent events. A client that goes away makes a write fail;
    /// leaving the loop drops the stream, which cancels the request in the engine. A chat
    /// reply goes through `parser`: reasoning and text stream as they come, each tool call
    /// once it is whole.
    private func sse(
        _ stream: AsyncThrowingStream<EngineEvent, Error>, id: String, model: String, chat: Bool, includeUsage: Bool,
        parser: ChatStreamParser?, outcome: @escaping @Sendable (Bool) async -> Void
    ) -> Response {
        let created = Int(Date().timeIntervalSince1970)
        let body = ResponseBody { writer in
            let encoder = JSONEncoder()
            func send(_ value: some Encodable) async throws {
                var line = Data("data: ".utf8)
                line.append(try encoder.encode(value))
                line.append(contentsOf: Array("\n\n".utf8))
                try await writer.write(ByteBuffer(bytes: line))
            }
            func chunk(
                _ text: String?, role: String? = nil, finish: String? = nil, usage: Usage? = nil, calls: [ToolCall]? = nil,
                reasoning: String? = nil
            ) async throws {
                if chat {
                    let choices: [ChatCompletionChunk.Choice] =
                        usage == nil || text != nil || finish != nil
                        ? [
                            .init(
                                index: 0, delta: .init(role: role, content: text, toolCalls: calls, reasoningContent: reasoning),
                                finishReason: finish)
                        ] : []
                    try await send(
                        ChatCompletionChunk(
                            id: id, created: created, model: model, choices: choices,
                            usage: usage.map(UsageBody.init)))
                } else {
                    let choices: [CompletionResponse.Choice] = usage == nil ? [.init(index: 0, text: text ?? "", finishReason: finish)] : []
                    try await send(
                        CompletionResponse(
                            id: id, created: created, model: model, choices: choices,
                            usage: usage.map(UsageBody.init)))
                }
            }
            if chat { try await chunk("", role: "assistant") }
            var parser = parser
            var calls = 0
            func send(_ deltas: [ChatStreamParser.Delta]) async throws {
                for d in deltas {
                    switch d {
                    case .content(let text): try await chunk(text)
                    case .reasoning(let text): try await chunk(nil, reasoning: text)
                    case .call(let call):
                        try await chunk(nil, calls: [.reply(name: call.name, arguments: call.arguments, index: calls)])
                        calls += 1
                    }
                }
            }
            var finished = false
            defer { if !finished { Task { await outcome(true) } } }
            for try await event in stream {
                switch event {
                case .token(_, let text):
                    if parser != nil {
                        try await send(parser!.feed(text))
                    } else if !text.isEmpty {
                        try await chunk(text)
                    }
                case .finished(let reason, let usage, let tail):
                    if parser != nil {
                        try await send(parser!.feed(tail) + parser!.finish())
                        try await chunk(nil, finish: calls > 0 ? "tool_calls" : reason.openAI ?? "stop")
                    } else {
                        try await chunk(tail, finish: reason.openAI ?? "stop")
                    }
                    if includeUsage { try await chunk(nil, usage: usage) }
                    finished = true
                    await outcome(false)
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
