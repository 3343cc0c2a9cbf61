import ArgumentParser
import ColonyModels
import ColonyServer
import Foundation

/// Options of the commands that serve the OpenAI API (serve, router): where to listen, the
/// API key, and the model's name and chat template as clients see them.
struct FrontDoorOptions: ParsableArguments {
    @Option(name: .long, help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(name: .long, help: "Port to listen on (0 picks a free one).")
    var port = 8080

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

    /// The API key from the flag, the file or `COLONY_API_KEY` (nil: no key required).
    func resolvedKey() throws -> String? { try keySource.resolve() }

    private var keySource: APIKeySource {
        APIKeySource(flag: apiKey, file: apiKeyFile, environment: ProcessInfo.processInfo.environment[APIKeySource.variable])
    }
}
