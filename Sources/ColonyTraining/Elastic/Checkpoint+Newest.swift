import Foundation

extension Checkpoint {
    /// The newest ZeRO step under `root` (a run's `checkpoints` folder) whose every shard is
    /// on disk, however many ranks wrote it: the paths of its shards in rank order (rank
    /// 0's first) and rank 0's checkpoint. `shards` counts the ranks of a checkpoint that
    /// does not say (written before checkpoints recorded it).
    static func newestSharded(in root: String, shards: Int) throws -> (paths: [String], lead: Checkpoint)? {
        func folder(_ rank: Int) -> String { (root as NSString).appendingPathComponent("rank-\(rank)") }
        for candidate in list(in: folder(0)).reversed() {
            let lead = try read(candidate)
            let paths = (0..<(lead.shards ?? shards)).map { path(in: folder($0), step: lead.step) }
            // A rank that died before writing its part leaves the step incomplete: go back one.
            if paths.allSatisfy({ FileManager.default.fileExists(atPath: $0) }) { return (paths, lead) }
        }
        return nil
    }

    /// The step of the newest checkpoint a resume of the run in `output` would start from:
    /// a whole one in `checkpoints`, else rank 0's under ZeRO (its every shard written).
    /// Meshes' per-rank checkpoints count by rank 0's. Nil when there is none.
    public static func newestStep(output: String) -> Int? {
        let root = (output as NSString).appendingPathComponent("checkpoints")
        if let whole = list(in: root).last { return try? read(whole).step }
        return (try? newestSharded(in: root, shards: 1))??.lead.step
    }
}
