/// Byte-level helpers the tokenizers share, as llama.cpp defines them.
enum TokenBytes {
    /// The length of the UTF-8 character a lead byte starts (1 for a stray continuation byte).
    static func characterLength(lead: UInt8) -> Int { [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4][Int(lead >> 4)] }

    /// The text of a byte-fallback token: `<0x0A>` for a newline.
    static func fallbackText(_ b: UInt8) -> String {
        let digits = String(b, radix: 16, uppercase: true)
        return "<0x" + (digits.count == 1 ? "0" : "") + digits + ">"
    }
}
