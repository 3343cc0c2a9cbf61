import ColonyStore
import Foundation

/// A stored run as readable text, step by step: what `colony agents show` prints.
///
/// Reads only the store, so it shows runs of any process, finished or interrupted; calls
/// that were recorded but never completed are listed as interrupted, outcome unknown.
public enum RunTranscript {
    /// The transcript of run `id`, or nil when `store` has no such run.
    public static func text(of id: String, in store: any RunStore) async throws -> String? {
        guard let record = try await store.run(id: id) else { return nil }
        var out = "run \(record.id) — agent \(record.agent), \(record.status)\ntask: \(record.task)\n"
        for step in try await store.steps(runID: id) {
            let calls = (try? JSONDecoder().decode([ToolCall].self, from: Data(step.callsJSON.utf8))) ?? []
            let results = (try? JSONDecoder().decode([String].self, from: Data(step.resultsJSON.utf8))) ?? []
            out += "\nstep \(step.index + 1) (\(step.promptTokens) prompt + \(step.completionTokens) completion tokens)\n"
            for (call, result) in zip(calls, results) { out += "  \(call.name) \(call.arguments)\n    → \(result)\n" }
        }
        for pending in try await store.pendingCalls(runID: id) {
            out += "\nstep \(pending.step + 1) interrupted: \(pending.name) \(pending.arguments) (outcome unknown)\n"
        }
        return out + "\nanswer: \(record.answer ?? "(none yet)")\n"
    }
}
