#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What one rank announced for the collective it is entering.
struct InProcessPost {
    enum Kind: String {
        case allReduce, reduceScatter, allGather, broadcast, barrier
    }

    var kind: Kind
    var count: Int
    var op: ReduceOp?
    var wire: WireFormat?
    var root: Int?
    /// The rank's buffer: read by the other ranks between the two barriers of the call.
    var buffer: UnsafeRawPointer?

    /// The call as it would be written, for error messages.
    var signature: String {
        var parts = ["count: \(count)"]
        if let op { parts.append("op: \(op)") }
        if let wire { parts.append("wire: \(wire)") }
        if let root { parts.append("root: \(root)") }
        return "\(kind.rawValue)(\(parts.joined(separator: ", ")))"
    }
}

/// The state the ranks of one `InProcessCollective` group share: a reusable barrier, each
/// rank's posted call, and the scratch buffer all-reduce sums into.
///
/// Every collective runs in two phases separated by barriers: each rank posts its call and
/// arrives; the last to arrive checks that the calls match and grows the scratch; then each
/// rank works on its own part, reading the others' posted buffers; a second barrier keeps
/// those buffers alive until everyone has finished reading them.
///
/// `@unchecked Sendable`: `arrived`, `generation`, `brokenBy` and `outcome` are touched
/// only with `mutex` held. `posts[r]` is written only by rank r, before it arrives at the
/// first barrier, and read by the others only after that barrier and before the second,
/// so no write overlaps a read; the mutex acquired in between orders them. `scratch` is
/// resized only by the last arrival at a first barrier, when no rank is reading it (every
/// rank has finished the previous collective to arrive), and each rank writes its own
/// disjoint range of it.
final class InProcessGroup: @unchecked Sendable {
    let size: Int

    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var arrived = 0
    private var generation = 0
    /// Why the group can no longer meet: a rank left it with an error.
    private var brokenBy: CollectiveError?
    /// The first barrier's verdict on the posted calls, `nil` when they match.
    private var outcome: CollectiveError?

    /// One slot per rank (raw memory, not an Array, so ranks write their own slots at
    /// the same time without an exclusive access to one shared array).
    let posts: UnsafeMutablePointer<InProcessPost>
    private(set) var scratch: UnsafeMutablePointer<Float>
    private var scratchCapacity = 0

    init(size: Int) {
        precondition(size >= 1, "a group has at least one rank, got \(size)")
        self.size = size
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
        posts = .allocate(capacity: size)
        posts.initialize(repeating: InProcessPost(kind: .barrier, count: 0), count: size)
        scratch = .allocate(capacity: 0)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        condition.deallocate()
        posts.deinitialize(count: size)
        posts.deallocate()
        scratch.deallocate()
    }

    /// Posts `post` as `rank`'s call and waits for every rank to post theirs.
    ///
    /// - Throws: `CollectiveError` when the ranks' calls differ (every rank throws the
    ///   same error, so none is left waiting), or when the group is broken.
    func enter(rank: Int, _ post: InProcessPost) throws {
        posts[rank] = post
        try wait { self.checkPosts() }
    }

    /// Waits for every rank to finish the current collective.
    func leave() throws {
        try wait { nil }
    }

    /// Marks the group broken because `rank` left it, so that ranks waiting in (or later
    /// entering) a collective throw instead of waiting for a rank that will never come.
    ///
    /// - Parameter error: why the rank left; `nil` when it finished its work, which is
    ///   only an error for ranks that still call collectives.
    func depart(rank: Int, error: (any Error)?) {
        pthread_mutex_lock(mutex)
        if brokenBy == nil {
            brokenBy = CollectiveError(
                error.map { "rank \(rank) of the in-process group failed (\($0)), so the group cannot complete collectives" }
                    ?? "rank \(rank) of the in-process group finished while others still called collectives; every rank must make the same calls in the same order"
            )
        }
        pthread_cond_broadcast(condition)
        pthread_mutex_unlock(mutex)
    }

    /// A reusable barrier: the last rank to arrive runs `lastArrival` (with the mutex
    /// held) and its result is what every rank of this generation throws, if not `nil`.
    private func wait(_ lastArrival: () -> CollectiveError?) throws {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        if let brokenBy { throw brokenBy }
        arrived += 1
        if arrived == size {
            arrived = 0
            generation &+= 1
            outcome = lastArrival()
            pthread_cond_broadcast(condition)
        } else {
            let mine = generation
            while generation == mine && brokenBy == nil {
                pthread_cond_wait(condition, mutex)
            }
            // The generation completed even if the group broke afterwards: finish it.
            if generation == mine, let brokenBy { throw brokenBy }
        }
        // Read under the mutex: the next generation cannot complete (and overwrite it)
        // before this rank arrives there.
        if let outcome { throw outcome }
    }

    /// Compares every rank's post with rank 0's and sizes the scratch for an all-reduce.
    private func checkPosts() -> CollectiveError? {
        let first = posts[0]
        for r in 1..<size where !matches(posts[r], first) {
            return CollectiveError(
                "ranks called different collectives: rank 0 called \(first.signature), rank \(r) called \(posts[r].signature); every rank must make the same calls in the same order"
            )
        }
        if first.kind == .broadcast, let root = first.root, !(0..<size).contains(root) {
            return CollectiveError("broadcast root \(root) is not a rank of this group of \(size)")
        }
        if first.kind == .allReduce && first.count > scratchCapacity {
            scratch.deallocate()
            scratch = .allocate(capacity: first.count)
            scratchCapacity = first.count
        }
        return nil
    }

    private func matches(_ a: InProcessPost, _ b: InProcessPost) -> Bool {
        a.kind == b.kind && a.count == b.count && a.op == b.op && a.wire == b.wire && a.root == b.root
    }
}
