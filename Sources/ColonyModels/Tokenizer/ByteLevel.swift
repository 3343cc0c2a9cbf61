/// GPT-2's byte-level alphabet: every byte is shown as a printable character so that BPE
/// vocabularies can be stored as text (space becomes "Ġ", newline "Ċ").
enum ByteLevel {
    /// `character[b]` is the vocabulary character of byte b.
    static let character: [Unicode.Scalar] = {
        var printable = Array(33...126) + Array(161...172) + Array(174...255)
        var codes = printable
        var extra = 0
        for b in 0..<256 where !printable.contains(b) {
            printable.append(b)
            codes.append(256 + extra)
            extra += 1
        }
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        for (b, c) in zip(printable, codes) { table[b] = Unicode.Scalar(UInt32(c))! }
        return table
    }()

    /// Byte of a vocabulary character, or nil when the character is not in the alphabet.
    static let byte: [UInt32: UInt8] = {
        var map: [UInt32: UInt8] = [:]
        for (b, c) in character.enumerated() { map[c.value] = UInt8(b) }
        return map
    }()
}
