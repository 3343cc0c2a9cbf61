/// Limits and policies of an engine.
public struct EngineConfiguration: Sendable {
    /// Requests decoded together at most.
    public var maxBatch = 16
    /// Tokens run per step at most (decode tokens plus prefill chunks).
    public var tokenBudget = 256
    /// KV blocks in the pool; with `blockSize` this bounds the cached tokens of all requests.
    public var kvBlocks = 1024
    public var blockSize = 16
    /// Requests waiting for admission at most; beyond it `submit` throws `queueFull`.
    public var maxQueue = 256
    public var policy: any SchedulingPolicy = FirstComeFirstServed()
    /// Salts every prefix hash of this engine (a model version or adapter name), so its
    /// cached blocks never match another model's requests.
    public var prefixCacheSalt: String?
    /// Publish the block pool's `KVEvent`s on `Engine.kvEvents` (for a router that tracks
    /// which prefixes this engine caches). Off, none are kept.
    public var publishesKVEvents = false

    public init() {}

    /// Checks the numbers; the message names the bad one.
    public func validate() throws(EngineError) {
        guard maxBatch >= 1 else { throw .invalidRequest("max batch must be ≥ 1, got \(maxBatch)") }
        guard tokenBudget >= 1 else { throw .invalidRequest("token budget must be ≥ 1, got \(tokenBudget)") }
        guard kvBlocks >= 2 else { throw .invalidRequest("kv blocks must be ≥ 2, got \(kvBlocks)") }
        guard blockSize >= 1 else { throw .invalidRequest("block size must be ≥ 1, got \(blockSize)") }
        guard maxQueue >= 1 else { throw .invalidRequest("max queue must be ≥ 1, got \(maxQueue)") }
    }
}
