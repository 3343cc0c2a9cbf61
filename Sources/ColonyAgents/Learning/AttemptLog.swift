import Foundation

/// One attempt at a task in a learning round: which version made it, its verified reward
/// and the whole trajectory, as one JSON line.
public struct Attempt: Codable, Sendable, Equatable {
    public var round: Int
    public var task: String
    public var attempt: Int
    /// The registry version that answered (`NAME@ID`).
    public var version: String
    public var reward: Double
    public var trajectory: Trajectory

    public init(round: Int, task: String, attempt: Int, version: String, reward: Double, trajectory: Trajectory) {
        self.round = round
        self.task = task
        self.attempt = attempt
        self.version = version
        self.reward = reward
        self.trajectory = trajectory
    }

    /// What makes an attempt unique: a rerun skips the keys already stored.
    public var key: String { "\(round)/\(task)/\(attempt)" }
}

/// Attempts appended to a JSONL file as they finish, each line written whole with one
/// `write` and flushed to disk, so a run killed at any point keeps every attempt that
/// finished and a rerun skips them. A torn last line (a kill mid-write) is dropped on read.
public struct AttemptLog: Sendable {
    public let path: String

    public init(path: String) { self.path = path }

    /// Every whole attempt stored, in order.
    public func read() throws -> [Attempt] {
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        let decoder = JSONDecoder()
        return data.split(separator: UInt8(ascii: "\n")).compactMap { try? decoder.decode(Attempt.self, from: Data($0)) }
    }

    public func append(_ attempt: Attempt) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var line = try encoder.encode(attempt)
        line.append(UInt8(ascii: "\n"))
        if !FileManager.default.fileExists(atPath: path) { FileManager.default.createFile(atPath: path, contents: nil) }
        guard let handle = FileHandle(forUpdatingAtPath: path) else { throw AgentError.cannotWrite(path: path) }
        defer { try? handle.close() }
        let end = try handle.seekToEnd()
        // A torn line from a killed writer would glue onto this one: start on a fresh line.
        if end > 0 {
            try handle.seek(toOffset: end - 1)
            if handle.readData(ofLength: 1) != Data([UInt8(ascii: "\n")]) { line.insert(UInt8(ascii: "\n"), at: 0) }
        }
        try handle.write(contentsOf: line)
        try handle.synchronize()
    }
}
