import ArgumentParser
import ColonyRegistry
import ColonyRouting

struct ModelsSplit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "split", abstract: "Share NAME@REF's live traffic between versions (A/B), sticky per session.",
        discussion: """
            `colony models split chat prod=v1a2b:90,v3c4d:10` sends 10% of the sessions asking for ref:chat \
            (OpenAI's `user`, or an x-session-id header; the request id without either) to v3c4d; the first \
            version is the one chat@prod serves now. Asking for chat@ID bypasses the split. A running \
            `colony serve --model ref:chat` picks the split up within a second, reports outcomes per version \
            (POST /v1/feedback, GET /v1/feedback), and its promotion gate promotes the challenger or ends the \
            split on its own, logged with its evidence (`colony models log chat`). With no split given, prints \
            the one in force.
            """)

    @OptionGroup var options: RegistryOptions
    @Argument(help: "The model's name.") var name: String
    @Argument(help: "REF=ID:SHARE,ID:SHARE, shares summing to 100.") var split: String?
    @Flag(name: .long, help: "End the split: the ref's version gets all the traffic again.") var clear = false
    @Option(name: .long, help: "Why, for the log.") var why: String?

    func validate() throws {
        guard (split == nil) || !clear else { throw ValidationError("give a split or --clear, not both") }
        if let split {
            do { _ = try TrafficSplit(parsing: split) } catch { throw ValidationError(error.description) }
        }
    }

    func run() async throws {
        let registry = try options.open()
        if clear {
            try await registry.clearSplit(name: name, why: why)
            writeOut("\(name): split cleared\n")
        } else if let split {
            let parsed = try TrafficSplit(parsing: split)
            try await registry.setSplit(
                name: name, ref: parsed.ref, text: parsed.description, versions: parsed.arms.map(\.version), why: why)
            writeOut("\(name): \(parsed)\n")
        } else {
            writeOut("\(name): " + (try await registry.split(name: name) ?? "no split") + "\n")
        }
    }
}
