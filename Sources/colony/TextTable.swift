import Foundation

/// Rows under a header, each column as wide as its widest cell, two spaces apart.
func textTable(header: [String], rows: [[String]]) -> String {
    let all = [header] + rows
    let widths = header.indices.map { i in all.map { $0[i].count }.max() ?? 0 }
    return all.map { row in
        row.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  ")
    }
    .map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: "\n") + "\n"
}
