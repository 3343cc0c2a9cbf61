import Foundation

/// A measurement report as commands print it: a table for people, or with `--json` one
/// line of JSON (sorted keys) for scripts.
public protocol PrintableReport: Encodable {
    /// The report as a table, ending with a newline.
    var table: String { get }
}

extension PrintableReport {
    /// The table, or the JSON line when `json` is set.
    public func rendered(json: Bool) throws -> String {
        guard json else { return table }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(self), as: UTF8.self) + "\n"
    }
}

extension ModelBenchReport: PrintableReport {}
extension AgentsBenchReport: PrintableReport {}
extension AllReduceBenchReport: PrintableReport {}
extension TrainBenchReport: PrintableReport {}
extension LoadGenerator.Report: PrintableReport {}
