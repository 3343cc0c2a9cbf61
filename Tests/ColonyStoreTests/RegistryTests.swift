import ColonyStore
import Foundation
import Testing

@testable import ColonyRegistry

@Suite("model registry: versions, refs, blobs")
struct RegistryTests {
    /// A registry over a fresh store of `backend`, with its blobs in a temporary folder.
    final class Fixture: @unchecked Sendable {
        let dir = NSTemporaryDirectory() + "colony-registry-\(UUID().uuidString)"
        let opened: OpenedStore
        var root: String { dir + "/registry" }

        init(_ backend: StoreBackend) throws {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            opened = try backend.open()
        }
        deinit { try? FileManager.default.removeItem(atPath: dir) }

        /// The registry; `fresh` opens the same database again (another process would).
        func registry(who: String = "tester@host", fresh: Bool = false) throws -> Registry {
            Registry(store: fresh ? try opened.reopen!() : opened.store, root: root, who: who)
        }

        func file(_ name: String, _ content: String) throws -> String {
            let path = dir + "/" + name
            try content.write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }
    }

    static let backends: [StoreBackend] = [.sqliteFile, .postgres]

    /// `sha256sum`'s digest of `path`: an independent reference for ours.
    static func sha256sum(_ path: String) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        p.arguments = [path]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return String(text.prefix(64))
    }

    @Test("a version's id and digest come from the file's SHA-256; the same bytes again give the same version", arguments: backends)
    func register(_ backend: StoreBackend) async throws {
        let f = try Fixture(backend)
        let r = try f.registry()
        let path = try f.file("a.gguf", String(repeating: "weights ", count: 100_000))
        let (v, created) = try await r.register(name: "chat", file: path, config: "lr: 0.001\n", eval: #"{"accuracy": 0.5}"#, why: "first")
        #expect(created)
        #expect(v.digest == (try Self.sha256sum(path)))
        #expect(v.id == "v" + v.digest.prefix(12))
        #expect(try await r.store.refs(name: "chat") == ["dev": v.id])
        let (again, createdAgain) = try await r.register(name: "chat", file: path)
        #expect(!createdAgain)
        #expect(again == v)
        #expect(try await r.resolve(ModelReference("ref:chat@dev")) == v)
        #expect(try r.weights(of: v) == f.root + "/blobs/sha256/" + v.digest)
        await #expect(throws: RegistryError.notFound("chat@prod")) { try await r.resolve(ModelReference("ref:chat")) }
        await #expect(throws: RegistryError.notFound("parent version v000000000000")) {
            try await r.register(name: "chat", file: path, parent: "v000000000000")
        }
    }

    @Test("promote, tag and rollback move refs; the log is a chain of who, from, to and why", arguments: backends)
    func refs(_ backend: StoreBackend) async throws {
        let f = try Fixture(backend)
        let r = try f.registry()
        var ids: [String] = []
        for i in 0..<3 { ids.append(try await r.register(name: "chat", file: try f.file("m\(i).gguf", "model \(i)")).version.id) }
        try await r.promote(name: "chat", id: ids[0], why: "baseline")
        try await r.promote(name: "chat", id: ids[1], why: "better")
        try await r.tag(name: "chat", ref: "feature/long-context", id: ids[2])
        #expect(try await r.rollback(name: "chat", why: "regressed") == ids[0])
        await #expect(throws: RegistryError.noHistory(name: "chat")) { try await r.rollback(name: "chat") }
        try await r.promote(name: "chat", id: ids[2])
        #expect(try await r.rollback(name: "chat") == ids[0])
        #expect(try await r.store.refs(name: "chat") == ["dev": ids[2], "prod": ids[0], "feature/long-context": ids[2]])
        let log = try await r.store.log(name: "chat")
        #expect(log.filter { $0.ref == "prod" }.map(\.action) == ["promote", "promote", "rollback", "promote", "rollback"])
        for ref in Set(log.map(\.ref)) {
            let moves = log.filter { $0.ref == ref }
            #expect(moves.first?.from == nil)
            for (a, b) in zip(moves, moves.dropFirst()) { #expect(b.from == a.to, "\(ref): each move starts where the last ended") }
        }
        #expect(log.allSatisfy { $0.who == "tester@host" })
        #expect(log.first { $0.action == "rollback" }?.why == "regressed")
        await #expect(throws: RegistryError.invalidName("main", why: "a ref is prod, dev or feature/<name>")) {
            try await r.tag(name: "chat", ref: "main", id: ids[0])
        }
        let other = try await r.register(name: "other", file: try f.file("o.gguf", "other")).version.id
        await #expect(throws: RegistryError.self) { try await r.promote(name: "chat", id: other) }
    }

    @Test("of promotions racing from two processes' stores, one wins each time and the log stays a chain", arguments: backends)
    func concurrentPromotes(_ backend: StoreBackend) async throws {
        let f = try Fixture(backend)
        let setup = try f.registry()
        let a = try await setup.register(name: "chat", file: try f.file("a.gguf", "a")).version.id
        let b = try await setup.register(name: "chat", file: try f.file("b.gguf", "b")).version.id
        let (left, right) = (try f.registry(who: "left@host", fresh: true), try f.registry(who: "right@host", fresh: true))
        var wins = 0
        for _ in 0..<20 {
            async let x: Bool = { (try? await left.promote(name: "chat", id: a)) != nil }()
            async let y: Bool = { (try? await right.promote(name: "chat", id: b)) != nil }()
            wins += [await x, await y].filter { $0 }.count
        }
        let prod = try await setup.store.log(name: "chat").filter { $0.ref == "prod" }
        #expect(prod.count == wins)
        #expect(wins >= 20, "every round at least one promotion lands")
        for (p, q) in zip(prod, prod.dropFirst()) { #expect(q.from == p.to) }
    }

    @Test("a missing or altered blob is refused, naming the version and the digest it expected")
    func blobs() async throws {
        let f = try Fixture(.sqliteFile)
        let r = try f.registry()
        let v = try await r.register(name: "chat", file: try f.file("a.gguf", "original weights")).version
        let blob = try r.weights(of: v)
        // Replace the blob (not through its hard link to a.gguf) with other bytes.
        try FileManager.default.removeItem(atPath: blob)
        try "tampered weights".write(toFile: blob, atomically: false, encoding: .utf8)
        #expect(throws: RegistryError.blobAltered(version: v.id, expected: v.digest, actual: try Self.sha256sum(blob), path: blob)) {
            try r.weights(of: v)
        }
        try FileManager.default.removeItem(atPath: blob)
        #expect(throws: RegistryError.blobMissing(version: v.id, digest: v.digest, path: blob)) { try r.weights(of: v) }
        #expect(RegistryError.blobMissing(version: v.id, digest: v.digest, path: blob).description.contains(v.digest))
    }

    @Test("references: NAME means NAME@prod; version ids; bad names are refused")
    func references() throws {
        #expect(try ModelReference("ref:chat") == .ref(name: "chat", ref: "prod"))
        #expect(try ModelReference("ref:chat@feature/x-1") == .ref(name: "chat", ref: "feature/x-1"))
        #expect(try ModelReference("v0123456789ab") == .version("v0123456789ab"))
        #expect(throws: RegistryError.self) { try ModelReference("ref:chat@main") }
        #expect(throws: RegistryError.self) { try ModelReference("ref:../etc") }
    }
}
