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
    @OptionGroup var frontDoor: FrontDoorOptions
    @OptionGroup var engineOptions: EngineOptions

    func run() async throws {
        bootstrapLogging(verbose: modelOptions.verbose)
        let key = try frontDoor.resolvedKey()
        let (model, tokenizer) = try modelOptions.loadModel()
        let template = try TemplateOptions.template(named: frontDoor.chatTemplate, gguf: model.file)
        let engine = try Engine(model: model, tokenizer: tokenizer, configuration: engineOptions.configuration)
        let name = modelOptions.servedName(frontDoor.modelName)
        var server = OpenAIServer(engine: engine, modelName: name, template: template, apiKey: key)
        server.toolFormat = TemplateOptions.toolFormat(gguf: model.file)
        server.modelVersion = modelOptions.version
        try await server.run(host: frontDoor.host, port: frontDoor.port) { bound in
            writeErr(
                "colony: serving '\(name)' on http://\(frontDoor.host):\(bound) (max batch \(engineOptions.maxBatch), \(engineOptions.kvBlocks) KV blocks)\n"
            )
        }
    }
}
