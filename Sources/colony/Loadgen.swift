import ArgumentParser
import ColonyBench
import ColonyHTTP
import Foundation

struct Loadgen: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Load-test an OpenAI-compatible server on this machine with streaming chat requests.",
        discussion: """
            Reports aggregate output tokens/s, time to first token and inter-token latency (p50/p99). With \
            --conversations it sends agent-like traffic instead: conversations with their own long system prompts \
            and growing histories, turn after turn, and reports later-turn TTFT and the prefix-cache hit rate. \
            Loopback addresses only.
            """
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

    @Option(name: .long, help: "Send this many multi-turn conversations instead of single requests (with --concurrency of them at once).")
    var conversations: Int?

    @Option(name: .long, help: "Turns per conversation.")
    var turns = 4

    @Option(name: .long, help: "Words of each conversation's own system prompt.")
    var systemWords = 200

    @Flag(name: .long, help: "Conversations without prefix reuse: every request gets a fresh prompt of the same size.")
    var noPrefixReuse = false

    func validate() throws {
        if let conversations, !(1...10_000).contains(conversations) {
            throw ValidationError("--conversations must be between 1 and 10000, got \(conversations)")
        }
        guard (1...100).contains(turns) else { throw ValidationError("--turns must be between 1 and 100, got \(turns)") }
        guard (0...100_000).contains(systemWords) else {
            throw ValidationError("--system-words must be between 0 and 100000, got \(systemWords)")
        }
        guard (1...100_000).contains(requests) else { throw ValidationError("--requests must be between 1 and 100000, got \(requests)") }
        guard (1...256).contains(concurrency) else { throw ValidationError("--concurrency must be between 1 and 256, got \(concurrency)") }
        guard maxTokens >= 1 else { throw ValidationError("--max-tokens must be ≥ 1, got \(maxTokens)") }
        guard sharedPrefix >= 0 else { throw ValidationError("--shared-prefix must be ≥ 0, got \(sharedPrefix)") }
        do { _ = try HTTPClient.Endpoint(url: url) } catch { throw ValidationError(error.description) }
    }

    func run() throws {
        if let conversations { return try runConversations(conversations) }
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

    private func runConversations(_ count: Int) throws {
        var load = ConversationLoad(endpoint: try HTTPClient.Endpoint(url: url))
        load.conversations = count
        load.turns = turns
        load.concurrency = concurrency
        load.systemWords = systemWords
        load.maxTokens = maxTokens
        load.prefixReuse = !noPrefixReuse
        load.model = model
        let total = count * turns
        let quiet = json
        let r = try load.run { done in if !quiet { writeErr(ProgressBar.status("\(done)/\(total) requests")) } }
        if !json { writeErr("\n") }
        writeOut(try r.rendered(json: json))
        if !json, let e = r.firstError { writeErr("first error: \(e)\n") }
    }
}
