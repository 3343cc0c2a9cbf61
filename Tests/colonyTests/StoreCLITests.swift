import Foundation
import Testing

@Suite("colony processes sharing one store")
struct StoreCLITests {
    /// Starts `count` colony processes at once and returns each one's exit status and
    /// standard error; any still running after `timeout` seconds is killed (status SIGKILL).
    static func runConcurrently(_ arguments: [String], count: Int, timeout: TimeInterval = 60) throws -> [(Int32, String)] {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("colony-stderr-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var processes: [(Process, URL)] = []
        for i in 0..<count {
            // Standard error to files, not pipes: nothing to drain while the others start.
            let log = dir.appendingPathComponent("\(i).log")
            FileManager.default.createFile(atPath: log.path, contents: nil)
            let process = Process()
            process.executableURL = CLI.binary
            process.arguments = arguments
            process.standardOutput = FileHandle.nullDevice
            process.standardError = try FileHandle(forWritingTo: log)
            processes.append((process, log))
        }
        for (process, _) in processes { try process.run() }
        let deadline = Date().addingTimeInterval(timeout)
        for (process, _) in processes {
            while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
        return try processes.map { process, log in (process.terminationStatus, try String(contentsOf: log, encoding: .utf8)) }
    }

    @Test("many processes opening one fresh database at once all get a working store")
    func concurrentFirstOpen() throws {
        // `agents show` opens (and, on a fresh file, creates) the store, then reports the
        // missing run: that message proves the open succeeded. Before the fix one of four
        // `colony agents run` on a fresh database died with "table runs already exists".
        for round in 0..<3 {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("colony-race-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            let db = dir.appendingPathComponent("colony.sqlite").path
            let results = try Self.runConcurrently(["agents", "show", "ghost", "--db", db], count: 8)
            for (status, stderr) in results {
                #expect(status != 0 && stderr.contains("there is no run 'ghost' in \(db)"), "round \(round): status \(status): \(stderr)")
            }
        }
    }
}
