import ArgumentParser
import ColonyAgents

struct AgentsShow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Print a stored run's trajectory, step by step.")

    @OptionGroup var storeOptions: StoreOptions

    @Argument(help: "The run id.")
    var runID: String

    func run() async throws {
        let store = try storeOptions.open()
        guard let text = try await RunTranscript.text(of: runID, in: store) else {
            throw ValidationError("there is no run '\(runID)' in \(storeOptions.location)")
        }
        writeOut(text)
    }
}
