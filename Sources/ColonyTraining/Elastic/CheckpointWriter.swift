import Foundation
import Synchronization

/// Writes checkpoints on a thread of its own, one at a time and in order, so training goes
/// on while the bytes reach the disk.
///
/// A checkpoint handed over is a snapshot: its arrays share storage with the trainer's
/// until the trainer next writes them, when copy-on-write gives the trainer fresh ones, so
/// the file holds the state of the step it was taken at. A failed write is reported by
/// the next call (and by `flush`), not lost.
final class CheckpointWriter: Sendable {
    private let queue = DispatchQueue(label: "colony.checkpoint-writer")
    private let failure = Failure()

    /// The first failed write's error, shared with the writing thread.
    private final class Failure: Sendable {
        let error = Mutex<TrainingError?>(nil)
    }

    /// Queues `checkpoint` for `directory`, keeping the newest `keep` there.
    ///
    /// - Throws: the error of an earlier write that failed.
    func write(_ checkpoint: Checkpoint, to directory: String, keep: Int) throws {
        try rethrow()
        queue.async { [failure] in
            do { try checkpoint.write(to: directory, keep: keep) } catch {
                let reason = (error as? TrainingError) ?? .invalidCheckpoint("\(error)")
                failure.error.withLock { $0 = $0 ?? reason }
            }
        }
    }

    /// Waits for every queued write.
    ///
    /// - Throws: the error of a write that failed.
    func flush() throws {
        queue.sync {}
        try rethrow()
    }

    private func rethrow() throws {
        if let error = failure.error.withLock({ $0 }) { throw error }
    }
}
