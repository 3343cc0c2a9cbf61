import Foundation

/// What `colony bench allreduce` reports: the JSON object (keys as today) and the table,
/// in the columns scripts/reference/mpi_allreduce.c prints so the script reads both alike.
public struct AllReduceBenchReport: Codable, Sendable {
    /// One buffer size.
    public struct Row: Codable, Sendable {
        public let mib: Double
        public let bytes: Int
        /// Rank 0's median seconds per call.
        public let seconds: Double
        public let algbwGBs: Double
        public let busbwGBs: Double
    }

    public let ranks: Int
    public let wire: String
    public let iterations: Int
    public let warmUp: Int
    public let results: [Row]
    /// Whether the check passed; absent without a check.
    public let checked: Bool?
    /// Wrong values over all ranks (0 without a check); not part of the JSON.
    public var wrongValues: Int = 0

    enum CodingKeys: String, CodingKey {
        case ranks, wire, iterations, warmUp, results, checked
    }

    /// The table, then (after a check) one line with its verdict.
    public var table: String {
        var out =
            "colony all-reduce (MPI backend), \(ranks) ranks, wire \(wire), sum in place, median of \(iterations) after \(warmUp) warm-up\n"
        out +=
            "MiB".leftPadded(8) + "bytes".leftPadded(12) + "time_us".leftPadded(12) + "algbw_GB/s".leftPadded(12)
            + "busbw_GB/s".leftPadded(12) + "\n"
        for row in results {
            out += String(format: "%8g%12d%12.1f%12.2f%12.2f\n", row.mib, row.bytes, row.seconds * 1e6, row.algbwGBs, row.busbwGBs)
        }
        if checked != nil {
            out +=
                wrongValues == 0
                ? "check: all \(ranks) ranks got the expected sums, the same bits as rank 0, and correct reduce-scatter, all-gather, broadcast, send/receive (from one rank and from any) and split results\n"
                : "check: FAILED, \(wrongValues) wrong values over all ranks (details on stderr)\n"
        }
        return out
    }
}

extension String {
    /// The string right-aligned in `width` columns (report tables).
    func leftPadded(_ width: Int) -> String {
        String(repeating: " ", count: max(0, width - count)) + self
    }
}
