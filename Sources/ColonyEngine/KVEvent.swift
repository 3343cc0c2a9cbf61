/// A change to what a block pool's prefix cache holds, as vLLM and Dynamo publish them: a
/// router that follows a worker's events knows which prefixes that worker can reuse.
public enum KVEvent: Sendable, Equatable {
    /// Full blocks now cached under these prefix hashes, in prefix order; `parent` is the
    /// hash of the block before the first one (nil at the start of a sequence).
    case stored(hashes: [PrefixHash], parent: PrefixHash?, blockSize: Int)
    /// Cached blocks that were evicted.
    case removed([PrefixHash])
    /// The whole prefix cache was dropped.
    case cleared
}
