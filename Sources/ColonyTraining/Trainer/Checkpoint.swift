import Foundation

/// Everything a run needs to continue exactly where it stopped.
public struct Checkpoint: Codable, Equatable, Sendable {
    public var config: TrainingConfiguration
    /// Optimiser steps completed.
    public var step: Int
    public var data: DataPosition
    public var losses: [Float]
    public var parameterNames: [String]
    public var parameters: [[Float]]
    public var optimizer: OptimizerState
    /// Under ZeRO: how many ranks each held a shard (this is one), so a resume at another
    /// world size knows which files make the whole.
    public var shards: Int?

    static let magic = Array("COLONYCK".utf8)

    /// The checkpoint file of `step` inside `directory`.
    public static func path(in directory: String, step: Int) -> String {
        (directory as NSString).appendingPathComponent(String(format: "step-%08d.ckpt", step))
    }

    /// Checkpoint files in `directory`, oldest first.
    public static func list(in directory: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { $0.hasPrefix("step-") && $0.hasSuffix(".ckpt") }.sorted().map {
            (directory as NSString).appendingPathComponent($0)
        }
    }

    /// Writes atomically (a temporary file renamed into place), then keeps the newest `keep`.
    public func write(to directory: String, keep: Int) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let target = Self.path(in: directory, step: step)
        let temporary = target + ".tmp"
        // A JSON header for the small fields; the float buffers follow raw, in order.
        var header = self
        header.parameters = []
        header.optimizer.buffers = []
        let headerBytes = try JSONEncoder().encode(header)
        var blob = Data(Self.magic)
        withUnsafeBytes(of: UInt64(headerBytes.count).littleEndian) { blob.append(contentsOf: $0) }
        blob.append(headerBytes)
        let buffers = parameters + optimizer.buffers.flatMap { $0 }
        withUnsafeBytes(of: UInt64(optimizer.buffers.count).littleEndian) { blob.append(contentsOf: $0) }
        for b in buffers {
            withUnsafeBytes(of: UInt64(b.count).littleEndian) { blob.append(contentsOf: $0) }
            b.withUnsafeBytes { blob.append(contentsOf: $0) }
        }
        guard FileManager.default.createFile(atPath: temporary, contents: blob) else {
            throw TrainingError.invalidCheckpoint("cannot write checkpoint '\(temporary)' (disk full or no permission?)")
        }
        if rename(temporary, target) != 0 {
            throw TrainingError.invalidCheckpoint("cannot move checkpoint into place at '\(target)': \(String(cString: strerror(errno)))")
        }
        for old in Self.list(in: directory).dropLast(keep) { try? FileManager.default.removeItem(atPath: old) }
    }

    /// Reads a checkpoint written by `write`.
    public static func read(_ path: String) throws -> Checkpoint {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TrainingError.invalidCheckpoint("cannot read checkpoint '\(path)'")
        }
        func damaged(_ why: String) -> TrainingError { .invalidCheckpoint("checkpoint '\(path)' is damaged: \(why)") }
        var offset = 0
        func take(_ n: Int) throws -> Data {
            guard offset + n <= data.count else { throw damaged("it ends early") }
            defer { offset += n }
            return data.subdata(in: offset..<offset + n)
        }
        func u64() throws -> Int { Int(UInt64(littleEndian: try take(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })) }
        guard try take(8) == Data(magic) else { throw damaged("not a Colony checkpoint") }
        var checkpoint: Checkpoint
        do {
            checkpoint = try JSONDecoder().decode(Checkpoint.self, from: try take(try u64()))
        } catch let error as TrainingError {
            throw error
        } catch {
            throw damaged("unreadable header")
        }
        let bufferKinds = try u64()
        func floats() throws -> [Float] {
            let n = try u64()
            let bytes = try take(n * 4)
            return bytes.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        }
        checkpoint.parameters = try checkpoint.parameterNames.map { _ in try floats() }
        checkpoint.optimizer.buffers = try (0..<bufferKinds).map { _ in try checkpoint.parameterNames.map { _ in try floats() } }
        guard offset == data.count else { throw damaged("trailing bytes") }
        return checkpoint
    }
}
