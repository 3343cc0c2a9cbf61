import ArgumentParser
import ColonyBench
import ColonyEngine
import ColonyHTTP
import ColonyModels
import ColonyRouting
import ColonyServer
import Foundation

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the model over an OpenAI-compatible HTTP API.",
        discussion: """
            Endpoints: POST /v1/chat/completions, POST /v1/completions (streaming with "stream": true), \
            GET /v1/models, POST /v1/feedback {"id": RESPONSE_ID, "reward": R, "success": BOOL}, GET /v1/feedback \
            (per version: requests, errors, latency, outcomes), GET /health, GET /metrics (Prometheus). Listens on \
            127.0.0.1 unless --host says otherwise. Ctrl-C (SIGINT) or SIGTERM stops accepting, finishes the \
            requests in flight, then exits.

            With --model ref:NAME the server runs NAME's registry versions: the whole model they share and, per \
            request, any LoRA adapter version on it (applied without merging; each version has its own prefix \
            cache). Requests for NAME follow NAME@prod and its traffic split (`colony models split`), sticky per \
            session; NAME@ID asks for one version. A promotion of NAME@prod reaches the server within a second. \
            The promotion gate (--gate-*) promotes a split's challenger or rolls it back on the outcomes posted.
            """
    )

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var frontDoor: FrontDoorOptions
    @OptionGroup var engineOptions: EngineOptions
    @OptionGroup var gateOptions: GateOptions

    func run() async throws {
        bootstrapLogging(verbose: modelOptions.verbose)
        let key = try frontDoor.resolvedKey()
        let (model, tokenizer) = try modelOptions.loadModel(adapters: true)
        let template = try TemplateOptions.template(named: frontDoor.chatTemplate, gguf: model.file)
        let engine = try Engine(model: model, tokenizer: tokenizer, configuration: engineOptions.configuration)
        let name = modelOptions.resolved?.name ?? modelOptions.servedName(frontDoor.modelName)
        var server = OpenAIServer(engine: engine, modelName: name, template: template, apiKey: key)
        server.toolFormat = TemplateOptions.toolFormat(gguf: model.file)
        server.modelVersion = modelOptions.version
        if let resolved = modelOptions.resolved {
            server.catalog = RegistryCatalog(
                registry: try RegistryOptions.open(store: nil, registry: nil), name: resolved.name, base: resolved.base,
                baseConfig: model.config, gate: gateOptions.gate)
        }
        try await server.run(host: frontDoor.host, port: frontDoor.port) { bound in
            writeErr(
                "colony: serving '\(name)' on http://\(frontDoor.host):\(bound) (max batch \(engineOptions.maxBatch), \(engineOptions.kvBlocks) KV blocks)\n"
            )
        }
    }
}
