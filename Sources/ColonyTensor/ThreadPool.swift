import ColonyKernels

/// A persistent pool of worker threads that the kernels split their work over.
///
/// Workers spin briefly between jobs and then sleep, so the dozens of small jobs of one
/// decode step do not each pay a thread wake-up. One job runs at a time: a pool belongs to
/// one model runner, which calls it from a single task at a time.
public final class ThreadPool: @unchecked Sendable {
    // @unchecked: the C pool is only driven by its owner's one thread (see above); the
    // pointer itself never changes after init.
    public let raw: OpaquePointer
    /// Number of threads, the caller's included.
    public let threadCount: Int

    /// Starts `threads - 1` workers; the calling thread is the last one.
    public init(threads: Int) {
        precondition(threads >= 1, "a thread pool needs at least one thread")
        threadCount = threads
        raw = ck_pool_create(Int32(threads))
    }

    deinit { ck_pool_destroy(raw) }
}
