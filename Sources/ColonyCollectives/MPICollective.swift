import CMPI
import Synchronization

/// A `Collective` over an MPI communicator (`MPI_COMM_WORLD`, or one split from it): one
/// rank per process, started by `mpirun`.
///
/// Nothing touches MPI until `initialize()` is called, so a program that links this module
/// still runs without `mpirun`. Each operation is the matching MPI call on f32 buffers
/// (`MPI_IN_PLACE` all-reduce, `MPI_Reduce_scatter_block`, `MPI_Allgather`, `MPI_Bcast`).
/// With a 16-bit wire the values are encoded before the call and decoded after it, and
/// the reduction is a user op that adds two encoded values in f32 and rounds the sum back,
/// so partial sums travel (and are rounded) in the wire format too; `average` divides the
/// decoded sum by the number of ranks.
///
/// `send` is `MPI_Isend` of a copy, completed later (so it never waits for the receiver);
/// `receive` probes for the message's size before `MPI_Recv`.
///
/// Identical results on every rank: for a commutative op OpenMPI's all-reduce algorithms
/// either reduce each element once and distribute it, or have two ranks compute `a + b`
/// and `b + a`, which IEEE addition makes equal. `colony bench allreduce --check` verifies it.
///
/// Calls are serialised by a process-wide lock (MPI is initialised with
/// `MPI_THREAD_SERIALIZED`), so the value may be used from any thread, one call at a time.
///
/// ```swift
/// let world = try MPICollective.initialize()
/// defer { try? MPICollective.finalize() }
/// try world.allReduce(gradients, count: n, op: .average, wire: .bf16)
/// ```
public struct MPICollective: Collective {
    public let rank: Int
    public let size: Int
    private let communicator: Communicator

    /// Initialises MPI on the first call (later calls return the same world).
    ///
    /// - Throws: `CollectiveError` when MPI was already finalised, cannot give the thread
    ///   support this type needs, or fails to start (outside `mpirun`, OpenMPI starts a
    ///   world of one rank).
    public static func initialize() throws -> MPICollective {
        try state.withLock { state in
            switch state {
            case .initialized(let world, _):
                return world
            case .finalized:
                throw CollectiveError(
                    "MPI was already finalized in this process and cannot be initialized again; keep the MPICollective from the first initialize()"
                )
            case .uninitialized:
                var provided: Int32 = 0
                try check(MPI_Init_thread(nil, nil, Int32(MPI_THREAD_SERIALIZED), &provided), "MPI_Init_thread")
                guard provided >= Int32(MPI_THREAD_SERIALIZED) else {
                    MPI_Finalize()
                    state = .finalized
                    throw CollectiveError(
                        "MPI provides thread level \(provided), below MPI_THREAD_SERIALIZED (\(MPI_THREAD_SERIALIZED)) which MPICollective needs; use an MPI built with thread support"
                    )
                }
                // The default handler aborts the job on any error; return codes instead,
                // so that failures become CollectiveErrors with MPI's message.
                try check(MPI_Comm_set_errhandler(colony_mpi_comm_world(), colony_mpi_errors_return()), "MPI_Comm_set_errhandler")
                var rank: Int32 = 0
                var size: Int32 = 0
                try check(MPI_Comm_rank(colony_mpi_comm_world(), &rank), "MPI_Comm_rank")
                try check(MPI_Comm_size(colony_mpi_comm_world(), &size), "MPI_Comm_size")
                var ops = SumOps(f16: colony_mpi_op_null(), bf16: colony_mpi_op_null())
                try check(MPI_Op_create(f16Sum, 1, &ops.f16), "MPI_Op_create")
                try check(MPI_Op_create(bf16Sum, 1, &ops.bf16), "MPI_Op_create")
                let world = MPICollective(rank: Int(rank), size: Int(size), communicator: Communicator(colony_mpi_comm_world()))
                state = .initialized(world, ops)
                return world
            }
        }
    }

    /// Finalises MPI. Every rank must call it, after its last collective; collectives
    /// called afterwards throw. Does nothing when MPI was never initialised.
    public static func finalize() throws {
        try state.withLock { state in
            guard case .initialized(_, var ops) = state else { return }
            try completeSends(all: true)
            state = .finalized
            try check(MPI_Op_free(&ops.f16), "MPI_Op_free")
            try check(MPI_Op_free(&ops.bf16), "MPI_Op_free")
            try check(MPI_Finalize(), "MPI_Finalize")
        }
    }

    private init(rank: Int, size: Int, communicator: Communicator) {
        self.rank = rank
        self.size = size
        self.communicator = communicator
    }

    private var comm: MPI_Comm? { communicator.handle }

    // MARK: - Collective

    public func allReduce(_ buffer: UnsafeMutablePointer<Float>, count: Int, op: ReduceOp, wire: WireFormat) throws {
        let n = try Self.mpiCount(count, "allReduce count")
        try Self.withMPI { ops in
            if wire == .f32 {
                try check(
                    MPI_Allreduce(colony_mpi_in_place(), buffer, n, colony_mpi_float(), colony_mpi_sum(), comm),
                    "MPI_Allreduce")
            } else {
                let encoded = UnsafeMutablePointer<UInt16>.allocate(capacity: count)
                defer { encoded.deallocate() }
                WireKernels.encode(buffer, encoded, count: count, wire: wire)
                try check(
                    MPI_Allreduce(colony_mpi_in_place(), encoded, n, colony_mpi_uint16(), ops[wire], comm),
                    "MPI_Allreduce")
                WireKernels.decode(encoded, buffer, count: count, wire: wire)
            }
        }
        if op == .average { WireKernels.divide(buffer, count: count, by: size) }
    }

    public func reduceScatter(
        _ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, shardCount: Int, op: ReduceOp, wire: WireFormat
    ) throws {
        let n = try Self.mpiCount(shardCount, "reduceScatter shardCount")
        _ = try Self.mpiCount(shardCount * size, "reduceScatter input (size × shardCount)")
        try Self.withMPI { ops in
            if wire == .f32 {
                try check(
                    MPI_Reduce_scatter_block(input, output, n, colony_mpi_float(), colony_mpi_sum(), comm),
                    "MPI_Reduce_scatter_block")
            } else {
                let encoded = UnsafeMutablePointer<UInt16>.allocate(capacity: shardCount * (size + 1))
                defer { encoded.deallocate() }
                let shard = encoded + shardCount * size
                WireKernels.encode(input, encoded, count: shardCount * size, wire: wire)
                try check(
                    MPI_Reduce_scatter_block(encoded, shard, n, colony_mpi_uint16(), ops[wire], comm),
                    "MPI_Reduce_scatter_block")
                WireKernels.decode(shard, output, count: shardCount, wire: wire)
            }
        }
        if op == .average { WireKernels.divide(output, count: shardCount, by: size) }
    }

    public func allGather(_ shard: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, shardCount: Int, wire: WireFormat) throws {
        let n = try Self.mpiCount(shardCount, "allGather shardCount")
        _ = try Self.mpiCount(shardCount * size, "allGather output (size × shardCount)")
        try Self.withMPI { _ in
            if wire == .f32 {
                try check(
                    MPI_Allgather(shard, n, colony_mpi_float(), output, n, colony_mpi_float(), comm), "MPI_Allgather")
            } else {
                let encoded = UnsafeMutablePointer<UInt16>.allocate(capacity: shardCount * (size + 1))
                defer { encoded.deallocate() }
                let mine = encoded + shardCount * size
                WireKernels.encode(shard, mine, count: shardCount, wire: wire)
                try check(
                    MPI_Allgather(mine, n, colony_mpi_uint16(), encoded, n, colony_mpi_uint16(), comm), "MPI_Allgather")
                WireKernels.decode(encoded, output, count: shardCount * size, wire: wire)
            }
        }
    }

    public func broadcast(_ buffer: UnsafeMutablePointer<Float>, count: Int, root: Int) throws {
        let n = try Self.mpiCount(count, "broadcast count")
        guard (0..<size).contains(root) else {
            throw CollectiveError("broadcast root \(root) is not a rank of this world of \(size)")
        }
        try Self.withMPI { _ in
            try check(MPI_Bcast(buffer, n, colony_mpi_float(), Int32(root), comm), "MPI_Bcast")
        }
    }

    public func barrier() throws {
        try Self.withMPI { _ in
            try check(MPI_Barrier(comm), "MPI_Barrier")
        }
    }

    public func send(_ buffer: UnsafePointer<Float>, count: Int, to destination: Int) throws {
        let n = try Self.mpiCount(count, "send count")
        try checkPeer(destination, "send to")
        try Self.withMPI { _ in
            try Self.completeSends(all: false)
            let copy = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
            copy.update(from: buffer, count: count)
            var request = colony_mpi_request_null()
            let code = MPI_Isend(copy, n, colony_mpi_float(), Int32(destination), 0, comm, &request)
            guard code == MPI_SUCCESS else {
                copy.deallocate()
                try check(code, "MPI_Isend")
                return
            }
            Self.pending.withLock { $0.sends.append((request, copy)) }
        }
    }

    public func receive(_ buffer: UnsafeMutablePointer<Float>, count: Int, from source: Int) throws {
        let n = try Self.mpiCount(count, "receive count")
        try checkPeer(source, "receive from")
        try Self.withMPI { _ in
            var status = MPI_Status()
            try check(MPI_Probe(Int32(source), 0, comm, &status), "MPI_Probe")
            var sent: Int32 = 0
            try check(MPI_Get_count(&status, colony_mpi_float(), &sent), "MPI_Get_count")
            guard sent == n else {
                throw CollectiveError(
                    "rank \(rank) expected \(count) values from rank \(source), which sent \(sent); sends and receives must agree on sizes")
            }
            try check(MPI_Recv(buffer, n, colony_mpi_float(), Int32(source), 0, comm, colony_mpi_status_ignore()), "MPI_Recv")
        }
    }

    public func receiveFromAny() throws -> (source: Int, values: [Float]) {
        try Self.withMPI { _ in
            var status = MPI_Status()
            try check(MPI_Probe(colony_mpi_any_source(), 0, comm, &status), "MPI_Probe")
            var sent: Int32 = 0
            try check(MPI_Get_count(&status, colony_mpi_float(), &sent), "MPI_Get_count")
            var values = [Float](repeating: 0, count: Int(sent))
            // Receive from the rank the probe found, so no other message overtakes it.
            try check(
                MPI_Recv(&values, sent, colony_mpi_float(), status.MPI_SOURCE, 0, comm, colony_mpi_status_ignore()), "MPI_Recv")
            return (Int(status.MPI_SOURCE), values)
        }
    }

    public func split(color: Int?, key: Int) throws -> (any Collective)? {
        if let color, color < 0 { throw CollectiveError("split color must be ≥ 0 (or nil to join no group), got \(color)") }
        guard let key = Int32(exactly: key), let mpiColor = Int32(exactly: color ?? 0) else {
            throw CollectiveError("split color and key must fit MPI's 32-bit integers")
        }
        return try Self.withMPI { _ -> MPICollective? in
            var child = colony_mpi_comm_null()
            try check(MPI_Comm_split(comm, color == nil ? colony_mpi_undefined() : mpiColor, key, &child), "MPI_Comm_split")
            guard color != nil else { return nil }
            try check(MPI_Comm_set_errhandler(child, colony_mpi_errors_return()), "MPI_Comm_set_errhandler")
            var rank: Int32 = 0
            var size: Int32 = 0
            try check(MPI_Comm_rank(child, &rank), "MPI_Comm_rank")
            try check(MPI_Comm_size(child, &size), "MPI_Comm_size")
            return MPICollective(rank: Int(rank), size: Int(size), communicator: Communicator(child))
        }
    }

    /// Point-to-point peers are other ranks of this group.
    private func checkPeer(_ peer: Int, _ what: String) throws {
        guard (0..<size).contains(peer), peer != rank else {
            throw CollectiveError("rank \(rank) cannot \(what) rank \(peer): the peer must be another rank of this group of \(size)")
        }
    }

    // MARK: - State

    /// An MPI communicator handle.
    ///
    /// `@unchecked Sendable`: the handle points to an object MPI owns, used only inside
    /// `withMPI` (one MPI call at a time).
    private final class Communicator: @unchecked Sendable {
        let handle: MPI_Comm?
        init(_ handle: MPI_Comm?) { self.handle = handle }
    }

    /// Sends started and not yet known to be complete, with the copies they send from.
    ///
    /// `@unchecked Sendable`: requests and buffers are touched only inside `withMPI`.
    private struct PendingSends: @unchecked Sendable {
        var sends: [(request: MPI_Request?, buffer: UnsafeMutablePointer<Float>)] = []
    }

    private static let pending = Mutex(PendingSends())

    /// Frees the sends that have completed; with `all`, waits for every one first. Call
    /// with MPI's lock held.
    private static func completeSends(all: Bool) throws {
        try pending.withLock { p in
            var kept: [(request: MPI_Request?, buffer: UnsafeMutablePointer<Float>)] = []
            for var send in p.sends {
                var done: Int32 = 1
                if all {
                    try check(MPI_Wait(&send.request, colony_mpi_status_ignore()), "MPI_Wait")
                } else {
                    try check(MPI_Test(&send.request, &done, colony_mpi_status_ignore()), "MPI_Test")
                }
                if done != 0 { send.buffer.deallocate() } else { kept.append(send) }
            }
            p.sends = kept
        }
    }

    /// The user ops that sum 16-bit encoded values, one per wire format.
    ///
    /// `@unchecked Sendable`: an `MPI_Op` is a pointer to an object MPI owns, valid from
    /// `MPI_Op_create` to `MPI_Op_free`; both happen with `state`'s lock held, and so does
    /// every use.
    private struct SumOps: @unchecked Sendable {
        var f16: MPI_Op?
        var bf16: MPI_Op?

        subscript(wire: WireFormat) -> MPI_Op? {
            wire == .f16 ? f16 : bf16
        }
    }

    private enum State {
        case uninitialized
        case initialized(MPICollective, SumOps)
        case finalized
    }

    /// MPI's lifecycle in this process; its lock also serialises every MPI call, which is
    /// what `MPI_THREAD_SERIALIZED` requires of the caller.
    private static let state = Mutex(State.uninitialized)

    /// Runs `body` with MPI initialised and no other MPI call in progress.
    private static func withMPI<T>(_ body: (SumOps) throws -> T) throws -> T {
        try state.withLock { state in
            switch state {
            case .initialized(_, let ops): return try body(ops)
            case .uninitialized: throw CollectiveError("MPI is not initialized; call MPICollective.initialize() first")
            case .finalized: throw CollectiveError("MPI was finalized; no collective can run after MPICollective.finalize()")
            }
        }
    }

    /// `count` as MPI's Int32 element count.
    private static func mpiCount(_ count: Int, _ what: String) throws -> Int32 {
        guard count >= 0 else { throw CollectiveError("\(what) must be ≥ 0, got \(count)") }
        guard let n = Int32(exactly: count) else {
            throw CollectiveError("\(what) is \(count) values, more than MPI's limit of \(Int32.max) per call; split the buffer")
        }
        return n
    }
}

// MARK: - MPI glue

/// Throws MPI's own message for a failed call.
private func check(_ code: Int32, _ call: String) throws {
    guard code != MPI_SUCCESS else { return }
    var text = [CChar](repeating: 0, count: Int(MPI_MAX_ERROR_STRING) + 1)
    var length: Int32 = 0
    let message =
        MPI_Error_string(code, &text, &length) == MPI_SUCCESS
        ? String(decoding: text.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        : "unknown error"
    throw CollectiveError("\(call) failed with MPI error \(code): \(message)")
}

/// `MPI_User_function` adding f16 values in f32 (`len` values, datatype MPI_UINT16_T).
private func f16Sum(
    _ input: UnsafeMutableRawPointer?, _ sum: UnsafeMutableRawPointer?, _ len: UnsafeMutablePointer<Int32>?,
    _: UnsafeMutablePointer<MPI_Datatype?>?
) {
    WireKernels.addEncoded(
        input!.assumingMemoryBound(to: UInt16.self), into: sum!.assumingMemoryBound(to: UInt16.self), count: Int(len!.pointee), wire: .f16)
}

/// `MPI_User_function` adding bf16 values in f32.
private func bf16Sum(
    _ input: UnsafeMutableRawPointer?, _ sum: UnsafeMutableRawPointer?, _ len: UnsafeMutablePointer<Int32>?,
    _: UnsafeMutablePointer<MPI_Datatype?>?
) {
    WireKernels.addEncoded(
        input!.assumingMemoryBound(to: UInt16.self), into: sum!.assumingMemoryBound(to: UInt16.self), count: Int(len!.pointee), wire: .bf16)
}
