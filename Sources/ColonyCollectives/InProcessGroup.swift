import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What one rank announced for the collective it is entering.
struct InProcessPost {
    enum Kind: String {
        case allReduce, reduceScatter, allGather, broadcast, barrier, split
    }

    var kind: Kind
    var count: Int
    var op: ReduceOp?
    var wire: WireFormat?
    var root: Int?
    /// `split`'s arguments, which differ between ranks (not compared).
    var color: Int?
    var key = 0
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
/// Point-to-point messages wait in `mailboxes`, one queue per (sender, receiver), until
/// the receiver takes them.
///
/// `@unchecked Sendable`: `arrived`, `generation`, `brokenBy`, `failed`, `departed`,
/// `outcome`, `mailboxes` and `arrivals` are touched only with `mutex` held. `splits` is written by the last arrival at a
/// `split`'s first barrier and read by each rank before the second. `posts[r]` is written only by rank r, before it arrives at the
/// first barrier, and read by the others only after that barrier and before the second,
/// so no write overlaps a read; the mutex acquired in between orders them. `scratch` is
/// resized only by the last arrival at a first barrier, when no rank is reading it (every
/// rank has finished the previous collective to arrive), and each rank writes its own
/// disjoint range of it.
final class InProcessGroup: @unchecked Sendable {
    let size: Int
    /// The world ranks of the members, in this group's rank order.
    let members: [Int]
    /// Every group split from the same world, this one included.
    let family: InProcessFamily

    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var arrived = 0
    private var generation = 0
    /// Why the group can no longer meet: a rank left it (with an error, or finished).
    private var brokenBy: CollectiveError?
    /// A rank of the world failed: nothing more can be sent or received here either.
    private var failed = false
    /// Ranks of this group that finished: collectives cannot complete without them, but
    /// messages between the others still flow.
    private var departed: Set<Int> = []
    /// The first barrier's verdict on the posted calls, `nil` when they match.
    private var outcome: CollectiveError?

    /// One slot per rank (raw memory, not an Array, so ranks write their own slots at
    /// the same time without an exclusive access to one shared array).
    let posts: UnsafeMutablePointer<InProcessPost>
    private(set) var scratch: UnsafeMutablePointer<Float>
    private var scratchCapacity = 0
    private var mailboxes: [[[Float]]]
    /// The senders of the messages waiting for each rank, oldest first (for `takeAny`).
    private var arrivals: [[Int]]
    /// Each rank's group and rank in it after a `split`.
    private(set) var splits: [(group: InProcessGroup, rank: Int)?]

    /// A world of `size` ranks.
    convenience init(size: Int) {
        precondition(size >= 1, "a group has at least one rank, got \(size)")
        self.init(members: Array(0..<size), family: InProcessFamily())
    }

    private init(members: [Int], family: InProcessFamily) {
        size = members.count
        self.members = members
        self.family = family
        mailboxes = Array(repeating: [], count: size * size)
        arrivals = Array(repeating: [], count: size)
        splits = Array(repeating: nil, count: size)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
        posts = .allocate(capacity: size)
        posts.initialize(repeating: InProcessPost(kind: .barrier, count: 0), count: size)
        scratch = .allocate(capacity: 0)
        family.add(self)
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

    /// Marks the group broken, so that ranks waiting in (or later entering) a collective
    /// throw `reason` instead of waiting for a rank that will never come. With `departed`
    /// (the group rank that finished) messages between the other ranks still flow; without
    /// (a rank failed) only messages already sent can still be received.
    func markBroken(_ reason: CollectiveError, departed rank: Int? = nil) {
        pthread_mutex_lock(mutex)
        if brokenBy == nil { brokenBy = reason }
        if let rank { departed.insert(rank) } else { failed = true }
        pthread_cond_broadcast(condition)
        pthread_mutex_unlock(mutex)
    }

    /// Queues `message` from rank `source` for rank `destination`.
    func post(_ message: [Float], from source: Int, to destination: Int) throws {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        if failed, let brokenBy { throw brokenBy }
        if departed.contains(destination) {
            throw CollectiveError(
                "rank \(source) sent to rank \(destination), which had finished; every send needs a matching receive")
        }
        mailboxes[source * size + destination].append(message)
        arrivals[destination].append(source)
        pthread_cond_broadcast(condition)
    }

    /// Waits for the oldest message from `source` to `destination` and removes it.
    func take(from source: Int, to destination: Int) throws -> [Float] {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        let box = source * size + destination
        while mailboxes[box].isEmpty {
            if failed, let brokenBy { throw brokenBy }
            if departed.contains(source) {
                throw CollectiveError(
                    "rank \(destination) waits for a message from rank \(source), which finished without sending it; every receive needs a matching send"
                )
            }
            pthread_cond_wait(condition, mutex)
        }
        arrivals[destination].remove(at: arrivals[destination].firstIndex(of: source)!)
        return mailboxes[box].removeFirst()
    }

    /// Waits for the oldest message to `destination` from any rank and removes it.
    func takeAny(to destination: Int) throws -> (source: Int, values: [Float]) {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while arrivals[destination].isEmpty {
            if failed, let brokenBy { throw brokenBy }
            if departed.count == size - 1 && !departed.contains(destination) {
                throw CollectiveError("rank \(destination) waits for a message, but every other rank has finished")
            }
            pthread_cond_wait(condition, mutex)
        }
        let source = arrivals[destination].removeFirst()
        return (source, mailboxes[source * size + destination].removeFirst())
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
        if first.kind == .split { makeSplits() }
        if first.kind == .allReduce && first.count > scratchCapacity {
            scratch.deallocate()
            scratch = .allocate(capacity: first.count)
            scratchCapacity = first.count
        }
        return nil
    }

    /// Forms the sub-groups the ranks' `split` posts ask for.
    private func makeSplits() {
        var colors: [Int: [Int]] = [:]
        for r in 0..<size {
            splits[r] = nil
            if let color = posts[r].color { colors[color, default: []].append(r) }
        }
        for ranks in colors.values {
            let ordered = ranks.sorted { (posts[$0].key, $0) < (posts[$1].key, $1) }
            let group = InProcessGroup(members: ordered.map { members[$0] }, family: family)
            for (i, r) in ordered.enumerated() { splits[r] = (group, i) }
        }
    }

    private func matches(_ a: InProcessPost, _ b: InProcessPost) -> Bool {
        a.kind == b.kind && a.count == b.count && a.op == b.op && a.wire == b.wire && a.root == b.root
    }
}

/// The groups of one in-process world: when a rank leaves (its work returned or threw),
/// the groups that can no longer complete are marked broken.
///
/// `@unchecked Sendable`: `groups` is touched only with `lock` held.
final class InProcessFamily: @unchecked Sendable {
    private let lock = NSLock()
    private var groups: [InProcessGroup] = []

    func add(_ group: InProcessGroup) {
        lock.withLock { groups.append(group) }
    }

    /// World rank `rank` left: a failure breaks every group (the job cannot go on); a rank
    /// that finished breaks the groups it belongs to, since no later call there can complete.
    func depart(rank: Int, error: (any Error)?) {
        let reason = CollectiveError(
            error.map { "rank \(rank) of the in-process group failed (\($0)), so the group cannot complete collectives" }
                ?? "rank \(rank) of the in-process group finished while others still called collectives; every rank must make the same calls in the same order"
        )
        let affected = lock.withLock { groups.filter { error != nil || $0.members.contains(rank) } }
        for group in affected { group.markBroken(reason, departed: error == nil ? group.members.firstIndex(of: rank) : nil) }
    }
}
