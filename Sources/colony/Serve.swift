import ArgumentParser
import ColonyBench
import ColonyEngine
import ColonyHTTP
import ColonyModels
import ColonyServer
import Foundation

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the model over an OpenAI-compatible HTTP API.",
        discussion: """
            Endpoints: POST /v1/chat/completions, POST /v1/completions (streaming with "stream": true), \
            GET /v1/models, GET /health, GET /metrics (Prometheus). Listens on 127.0.0.1 unless --host says \
            otherwise. Ctrl-C (SIGINT) or SIGTERM stops accepting, finishes the requests in flight, then exits.
            """
    )

    @OptionGroup var modelOptions: ModelOptions

    @Option(name: .long, help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(name: .long, help: "Port to listen on (0 picks a free one).")
    var port = 8080

    @Option(name: .long, help: "Requests decoded together at most.")
    var maxBatch = 16

    @Option(name: .long, help: "KV cache blocks of 16 tokens (default: room for 16384 tokens).")
    var kvBlocks = 1024

    @Option(name: .long, help: "Tokens per engine step at most (decode plus prefill chunks).")
    var tokenBudget = 256

    @Option(name: .long, help: "Requests waiting at most; more get HTTP 429.")
    var maxQueue = 256

    @Option(name: .long, help: "Require 'Authorization: Bearer KEY' on every route but /health (or set COLONY_API_KEY).")
    var apiKey: String?

    @Option(name: .long, help: "Read the API key from this file (trailing newline dropped) instead of --api-key.")
    var apiKeyFile: String?

    @Option(name: .long, help: "Model id shown in /v1/models and expected in requests (default: the file name).")
    var modelName: String?

    @Option(name: .long, help: "Chat template instead of the model's: chatml, llama3, gemma.")
    var chatTemplate: String?

    @Option(name: .long, help: "Admission order: fcfs or priority (uses the request's 'priority' field).")
    var policy = "fcfs"

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535, got \(port)") }
        guard maxBatch >= 1 else { throw ValidationError("--max-batch must be ≥ 1, got \(maxBatch)") }
        guard kvBlocks >= 2 else { throw ValidationError("--kv-blocks must be ≥ 2, got \(kvBlocks)") }
        guard tokenBudget >= 1 else { throw ValidationError("--token-budget must be ≥ 1, got \(tokenBudget)") }
        guard maxQueue >= 1 else { throw ValidationError("--max-queue must be ≥ 1, got \(maxQueue)") }
        guard ["fcfs", "priority"].contains(policy) else { throw ValidationError("--policy must be fcfs or priority, got '\(policy)'") }
        do { _ = try keySource.resolve() } catch { throw ValidationError(error.description) }
        try TemplateOptions.check(chatTemplate)
    }

    private var keySource: APIKeySource {
        APIKeySource(flag: apiKey, file: apiKeyFile, environment: ProcessInfo.processInfo.environment[APIKeySource.variable])
    }

    func run() async throws {
        bootstrapLogging(verbose: modelOptions.verbose)
        let key = try keySource.resolve()
        let (model, tokenizer) = try modelOptions.loadModel()
        var config = EngineConfiguration()
        config.maxBatch = maxBatch
        config.kvBlocks = kvBlocks
        config.tokenBudget = tokenBudget
        config.maxQueue = maxQueue
        config.policy = policy == "priority" ? PriorityFirst() as any SchedulingPolicy : FirstComeFirstServed()
        let template: ChatTemplate? =
            if let chatTemplate { try ChatTemplate(named: chatTemplate) } else { try? ChatTemplate(gguf: model.file) }
        let engine = try Engine(model: model, tokenizer: tokenizer, configuration: config)
        let name = modelName ?? ((modelOptions.modelPath as NSString).lastPathComponent as NSString).deletingPathExtension
        let server = OpenAIServer(engine: engine, modelName: name, template: template, apiKey: key)
        try await server.run(host: host, port: port) { bound in
            writeErr("colony: serving '\(name)' on http://\(host):\(bound) (max batch \(maxBatch), \(kvBlocks) KV blocks)\n")
        }
    }
}

struct Loadgen: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Load-test an OpenAI-compatible server on this machine with streaming chat requests.",
        discussion: "Reports aggregate output tokens/s, time to first token and inter-token latency (p50/p99). Loopback addresses only."
    )

    @Option(name: .long, help: "Server base URL, e.g. http://127.0.0.1:8080.")
    var url: String

    @Option(name: .long, help: "Requests to send in total.")
    var requests = 64

    @Option(name: .long, help: "Requests in flight at once.")
    var concurrency = 8

    @Option(name: .long, help: "max_tokens of each request.")
    var maxTokens = 64

    @Option(name: .long, help: "Words of a system prompt shared by every request (about one token each).")
    var sharedPrefix = 0

    @Option(name: .long, help: "Model id to request (default: the first of GET /v1/models).")
    var model: String?

    @Option(name: .long, help: "API key to send as a bearer token.")
    var apiKey: String?

    @Flag(name: .long, help: "Print one JSON object instead of a table.")
    var json = false

    func validate() throws {
        guard (1...100_000).contains(requests) else { throw ValidationError("--requests must be between 1 and 100000, got \(requests)") }
        guard (1...256).contains(concurrency) else { throw ValidationError("--concurrency must be between 1 and 256, got \(concurrency)") }
        guard maxTokens >= 1 else { throw ValidationError("--max-tokens must be ≥ 1, got \(maxTokens)") }
        guard sharedPrefix >= 0 else { throw ValidationError("--shared-prefix must be ≥ 0, got \(sharedPrefix)") }
        do { _ = try HTTPClient.Endpoint(url: url) } catch { throw ValidationError(error.description) }
    }

    func run() throws {
        var generator = LoadGenerator(endpoint: try HTTPClient.Endpoint(url: url))
        generator.requests = requests
        generator.concurrency = concurrency
        generator.maxTokens = maxTokens
        generator.sharedPrefixWords = sharedPrefix
        generator.model = model
        generator.apiKey = apiKey
        let total = requests
        let quiet = json
        let r = try generator.run { done in if !quiet { writeErr(ProgressBar.status("\(done)/\(total) requests")) } }
        if !json { writeErr("\n") }
        writeOut(try r.rendered(json: json))
        if !json, let e = r.firstError { writeErr("first error: \(e)\n") }
    }
}
