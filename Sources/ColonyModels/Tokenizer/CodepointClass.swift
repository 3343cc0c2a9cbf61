/// How llama.cpp classifies a codepoint for pre-tokenization: its category (from llama.cpp's
/// own Unicode 15.1 table, `UnicodeTables`) and whether it is whitespace. Swift's Unicode
/// properties follow another Unicode version, so they would split some texts differently.
enum CodepointClass {
    static let undefined: UInt8 = 0x01
    static let number: UInt8 = 0x02
    static let letter: UInt8 = 0x04
    static let separator: UInt8 = 0x08
    static let mark: UInt8 = 0x10
    static let punctuation: UInt8 = 0x20
    static let symbol: UInt8 = 0x40
    static let control: UInt8 = 0x80

    private static let table: (starts: [UInt32], flags: [UInt8]) = {
        var starts: [UInt32] = []
        var flags: [UInt8] = []
        for entry in UnicodeTables.rangeFlags.split(separator: ",") {
            let parts = entry.split(separator: ":")
            starts.append(UInt32(parts[0], radix: 16)!)
            flags.append(UInt8(parts[1], radix: 16)!)
        }
        return (starts, flags)
    }()

    /// The category flag of `c` (one of the constants above; `undefined` past U+10FFFF).
    static func category(_ c: UInt32) -> UInt8 {
        guard c < 0x11_0000 else { return undefined }
        let starts = table.starts
        var (lo, hi) = (0, starts.count)
        while hi - lo > 1 {
            let mid = (lo + hi) / 2
            if starts[mid] <= c { lo = mid } else { hi = mid }
        }
        return table.flags[lo]
    }

    static func isWhitespace(_ c: UInt32) -> Bool { UnicodeTables.whitespace.contains(c) }
    static func isLetter(_ c: UInt32) -> Bool { category(c) == letter }
    static func isNumber(_ c: UInt32) -> Bool { category(c) == number }
    static func isMark(_ c: UInt32) -> Bool { category(c) == mark }
}
