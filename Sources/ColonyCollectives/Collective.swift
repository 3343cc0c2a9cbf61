/// How values travel between ranks. Reduction always accumulates in f32; `f16` and `bf16`
/// halve the bytes on the wire at the cost of rounding each contribution.
public enum WireFormat: String, Sendable, CaseIterable {
    case f32, f16, bf16
}

/// Reduction applied by `allReduce` and `reduceScatter`.
public enum ReduceOp: Sendable {
    case sum
    /// The sum divided by the number of ranks (gradient averaging).
    case average
}

/// A failure of a collective: mismatched sizes across ranks, a backend error.
public struct CollectiveError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The communication a group of ranks does together (the MPI/NCCL subset training needs).
///
/// Contract: every rank of the group calls the same operations in the same order with the
/// same `count`s; each call returns on a rank when that rank's part is complete. Results
/// are bitwise identical on every rank (the reduction order does not depend on the rank),
/// so replicas never drift apart.
///
/// Buffer layouts for `reduceScatter` and `allGather`: the full buffer is `size` equal
/// shards of `shardCount` values, shard `r` belonging to rank `r`.
public protocol Collective: Sendable {
    /// This rank, in `0..<size`.
    var rank: Int { get }
    var size: Int { get }

    /// Reduces `buffer` (count values) across ranks in place.
    func allReduce(_ buffer: UnsafeMutablePointer<Float>, count: Int, op: ReduceOp, wire: WireFormat) throws

    /// Reduces the full `input` (size × shardCount values) and leaves this rank's shard
    /// of the result in `output` (shardCount values).
    func reduceScatter(
        _ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, shardCount: Int, op: ReduceOp, wire: WireFormat) throws

    /// Gathers every rank's `shard` (shardCount values) into `output` (size × shardCount), in rank order.
    func allGather(_ shard: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, shardCount: Int, wire: WireFormat) throws

    /// Copies `root`'s buffer to every rank.
    func broadcast(_ buffer: UnsafeMutablePointer<Float>, count: Int, root: Int) throws

    /// Returns when every rank has called it.
    func barrier() throws

    /// Sends `count` values to rank `destination` of this group.
    ///
    /// Buffered: returns once `buffer` may be reused, without waiting for the matching
    /// `receive`, so two ranks may send to each other before either receives (a pipeline's
    /// activations and gradients cross like that). Messages from one rank to another
    /// arrive in the order they were sent.
    func send(_ buffer: UnsafePointer<Float>, count: Int, to destination: Int) throws

    /// Receives the oldest message not yet received from rank `source` into `buffer`,
    /// waiting for it to arrive.
    ///
    /// - Throws: `CollectiveError` when the message does not hold exactly `count` values.
    func receive(_ buffer: UnsafeMutablePointer<Float>, count: Int, from source: Int) throws

    /// Receives the next message from whichever rank sent one, of any length, waiting for
    /// one to arrive: what a server that answers many clients needs. Messages from one
    /// sender still arrive in the order sent.
    func receiveFromAny() throws -> (source: Int, values: [Float])

    /// Splits this group into sub-groups, like `MPI_Comm_split`: the ranks that pass the
    /// same `color` form one group, ranked by `key` (ties by their rank here). Every rank
    /// calls it; a rank that passes `nil` joins no group and gets `nil`.
    func split(color: Int?, key: Int) throws -> (any Collective)?
}
