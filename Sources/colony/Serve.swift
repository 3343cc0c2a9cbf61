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

    @OptionGroup var engineOptions: EngineOptions

    @Option(name: .long, help: "Require 'Authorization: Bearer KEY' on every route but /health (or set COLONY_API_KEY).")
    var apiKey: String?

    @Option(name: .long, help: "Read the API key from this file (trailing newline dropped) instead of --api-key.")
    var apiKeyFile: String?

    @Option(name: .long, help: "Model id shown in /v1/models and expected in requests (default: the file name).")
    var modelName: String?

    @Option(name: .long, help: "Chat template instead of the model's: chatml, llama3, gemma.")
    var chatTemplate: String?

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535, got \(port)") }
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
        let template = try TemplateOptions.template(named: chatTemplate, gguf: model.file)
        let engine = try Engine(model: model, tokenizer: tokenizer, configuration: engineOptions.configuration)
        let name = modelOptions.servedName(modelName)
        let server = OpenAIServer(engine: engine, modelName: name, template: template, apiKey: key)
        try await server.run(host: host, port: port) { bound in
            writeErr(
                "colony: serving '\(name)' on http://\(host):\(bound) (max batch \(engineOptions.maxBatch), \(engineOptions.kvBlocks) KV blocks)\n"
            )
        }
    }
}
