/// The identity of a prefix of full KV blocks: a hash chained over each block's tokens,
/// so equal hashes mean equal prefixes (up to collisions of 64-bit FNV-1a).
///
/// A salt (a model version, an adapter) starts a different chain, so blocks computed
/// under one salt never match requests under another. The value is stable across runs
/// and processes (unlike `Hasher`), which is what lets a router predict a worker's cache
/// from the hashes it announced.
///
/// ```swift
/// let hashes = PrefixHash.blocks(of: prompt, blockSize: 16, salt: "v3")
/// ```
public struct PrefixHash: Hashable, Sendable, CustomStringConvertible {
    public let value: UInt64

    public init(value: UInt64) { self.value = value }

    /// The hash of the empty prefix under `salt` (nil: the unsalted chain).
    public static func root(salt: String? = nil) -> PrefixHash {
        guard let salt else { return PrefixHash(value: offsetBasis) }
        var h = offsetBasis
        for byte in salt.utf8 { h = (h ^ UInt64(byte)) &* prime }
        // A separator no token can produce, so a salt never equals a token prefix.
        return PrefixHash(value: (h ^ 0xff) &* prime &* prime)
    }

    /// The root for a request: the engine's salt and the request's, joined (nil entries are
    /// skipped; none at all gives the unsalted chain). Routers use it to hash as workers do.
    public static func root(salts: [String?]) -> PrefixHash {
        let given = salts.compactMap { $0 }
        return root(salt: given.isEmpty ? nil : given.joined(separator: "\u{1f}"))
    }

    /// The hash of this prefix followed by one more block of `tokens`.
    public func appending(_ tokens: ArraySlice<Int>) -> PrefixHash {
        var h = value
        for t in tokens {
            var v = UInt64(UInt32(truncatingIfNeeded: t))
            for _ in 0..<4 {
                h = (h ^ (v & 0xff)) &* Self.prime
                v >>= 8
            }
        }
        return PrefixHash(value: h)
    }

    /// The hash of every full block of `tokens`, in order (a partial last block has none).
    public static func blocks(of tokens: [Int], blockSize: Int, salt: String? = nil) -> [PrefixHash] {
        blocks(of: tokens, blockSize: blockSize, root: root(salt: salt))
    }

    /// The hash of every full block of `tokens`, chained from `root`.
    public static func blocks(of tokens: [Int], blockSize: Int, root: PrefixHash) -> [PrefixHash] {
        var hashes: [PrefixHash] = []
        var h = root
        for start in stride(from: 0, to: tokens.count - blockSize + 1, by: blockSize) {
            h = h.appending(tokens[start..<(start + blockSize)])
            hashes.append(h)
        }
        return hashes
    }

    public var description: String { String(value, radix: 16) }

    private static let offsetBasis: UInt64 = 0xcbf2_9ce4_8422_2325
    private static let prime: UInt64 = 0x100_0000_01b3
}
