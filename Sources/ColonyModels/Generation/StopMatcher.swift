/// Finds stop strings in streamed text and holds back any tail that might still become
/// one, so a stop string is never shown to the user, not even in part.
public struct StopMatcher: Sendable {
    public let stops: [String]
    private var buffer = ""

    public init(stops: [String]) { self.stops = stops.filter { !$0.isEmpty } }

    /// Adds text; returns what can be shown now and whether a stop string was reached
    /// (the text before it is returned, the rest is dropped).
    public mutating func append(_ text: String) -> (text: String, stopped: Bool) {
        buffer += text
        if let hit = stops.compactMap({ buffer.range(of: $0) }).min(by: { $0.lowerBound < $1.lowerBound }) {
            let out = String(buffer[..<hit.lowerBound])
            buffer = ""
            return (out, true)
        }
        // Hold back the longest suffix that is a prefix of some stop string.
        var held = 0
        for stop in stops {
            for n in stride(from: min(stop.count, buffer.count), to: 0, by: -1) where n > held {
                if buffer.hasSuffix(stop.prefix(n)) {
                    held = n
                    break
                }
            }
        }
        let cut = buffer.index(buffer.endIndex, offsetBy: -held)
        let out = String(buffer[..<cut])
        buffer = String(buffer[cut...])
        return (out, false)
    }

    /// Text still held back at the end of the stream.
    public mutating func flush() -> String {
        defer { buffer = "" }
        return buffer
    }
}
