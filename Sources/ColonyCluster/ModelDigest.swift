import Foundation

/// A fingerprint of a model file's bytes, so a router can refuse a worker that serves a
/// different file under the same name. Not cryptographic: four 64-bit multiply-xor lanes
/// over the file's words (memory-mapped), fast enough for multi-gigabyte files at start-up.
public enum ModelDigest {
    /// `c64:` and 16 hex digits.
    public static func of(path: String) throws -> String {
        let data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
        let h = data.withUnsafeBytes { digest($0) }
        return "c64:" + String(format: "%016llx", h)
    }

    static func digest(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        let prime: UInt64 = 0x9E37_79B1_85EB_CA87
        var lanes: (UInt64, UInt64, UInt64, UInt64) = (1, 2, 3, 4)
        let words = bytes.count / 32 * 4
        var i = 0
        while i < words {
            lanes.0 = (lanes.0 ^ bytes.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)) &* prime
            lanes.1 = (lanes.1 ^ bytes.loadUnaligned(fromByteOffset: i * 8 + 8, as: UInt64.self)) &* prime
            lanes.2 = (lanes.2 ^ bytes.loadUnaligned(fromByteOffset: i * 8 + 16, as: UInt64.self)) &* prime
            lanes.3 = (lanes.3 ^ bytes.loadUnaligned(fromByteOffset: i * 8 + 24, as: UInt64.self)) &* prime
            lanes.0 ^= lanes.0 >> 29
            lanes.1 ^= lanes.1 >> 29
            lanes.2 ^= lanes.2 >> 29
            lanes.3 ^= lanes.3 >> 29
            i += 4
        }
        var h = UInt64(bytes.count) &* prime
        for byte in bytes[(words * 8)...] { h = (h ^ UInt64(byte)) &* prime }
        for lane in [lanes.0, lanes.1, lanes.2, lanes.3] { h = ((h ^ lane) &* prime) ^ (h >> 31) }
        return h
    }
}
