import Foundation

/// The one progress line of Colony's long commands (training, swarms, benchmarks, load
/// tests): text that redraws itself in place on a terminal's stderr.
///
/// Every line starts with a carriage return and "erase to end of line", so a shorter
/// line never leaves the tail of a longer one behind.
public struct ProgressBar: Sendable {
    /// Characters between the brackets.
    public let width: Int

    public init(width: Int) {
        precondition(width > 0, "a progress bar needs at least one character")
        self.width = width
    }

    /// Moves to the start of the line and erases it.
    public static let clear = "\r\u{1B}[K"

    /// `text` redrawn in place of the current line.
    public static func status(_ text: String) -> String { clear + text }

    /// The bar alone: `[######......]`, filled in proportion to `done` of `total` (clamped).
    public func bar(_ done: Int, of total: Int) -> String {
        let filled = total > 0 ? min(width, max(0, width * done / total)) : width
        return "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "]"
    }

    /// The bar followed by `label`, redrawn in place: `\r\e[K[####....] label`.
    public func line(_ done: Int, of total: Int, _ label: String) -> String {
        Self.status(bar(done, of: total) + " " + label)
    }

    /// A time left for a progress line: `45s`, `3m05s`; `?` while there is no pace yet.
    public static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "?" }
        let s = Int(seconds.rounded())
        return s >= 60 ? "\(s / 60)m\(String(format: "%02d", s % 60))s" : "\(s)s"
    }
}
