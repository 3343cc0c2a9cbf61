import Foundation
import Testing

@testable import ColonyRouting

@Suite("file discovery and member status")
struct DiscoveryTests {
    func temporaryPath() -> String { NSTemporaryDirectory() + "colony-discovery-\(UUID().uuidString).json" }

    @Test("members register, update and leave; the file is a JSON list")
    func registerAndLeave() throws {
        let path = temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let d = FileDiscovery(path: path)
        #expect(try d.members().isEmpty)
        try d.register(ClusterMember(id: "w1", role: .active, address: "127.0.0.1:9001", pid: 1))
        try d.register(ClusterMember(id: "w2", role: .spare, address: "127.0.0.1:9002"))
        try d.register(ClusterMember(id: "w1", role: .active, address: "127.0.0.1:9003", pid: 1))
        #expect(try d.members().map(\.address) == ["127.0.0.1:9003", "127.0.0.1:9002"])
        let raw = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path)))
        #expect((raw as? [[String: Any]])?.count == 2)
        try d.deregister(id: "w1")
        try d.deregister(id: "nobody")
        #expect(try d.members().map(\.id) == ["w2"])
    }

    @Test("an id held by another live process is refused, naming both addresses")
    func duplicateLive() throws {
        let path = temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let d = FileDiscovery(path: path)
        let me = Int(ProcessInfo.processInfo.processIdentifier)
        try d.register(ClusterMember(id: "w1", role: .active, address: "127.0.0.1:9001", pid: me))
        #expect(throws: DiscoveryError.duplicateID("w1", addresses: ["127.0.0.1:9001", "127.0.0.1:9002"])) {
            try d.register(ClusterMember(id: "w1", role: .active, address: "127.0.0.1:9002", pid: me + 1))
        }
    }

    @Test("a hand-written file with a duplicate id, bad JSON or a bad URL gives a clear error")
    func badInput() throws {
        let path = temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        try #"[{"id":"a","role":"active","address":"h:1"},{"id":"a","role":"active","address":"h:2"}]"#.write(
            toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: DiscoveryError.duplicateID("a", addresses: ["h:1", "h:2"])) { try FileDiscovery(path: path).members() }
        try "{not json".write(toFile: path, atomically: true, encoding: .utf8)
        #expect { try FileDiscovery(path: path).members() } throws: {
            ($0 as? DiscoveryError)?.description.contains("not a JSON list") == true
        }
        #expect(throws: DiscoveryError.invalidMember("'nohost' is not host:port")) {
            try FileDiscovery(path: path + "x").register(ClusterMember(id: "a", role: .active, address: "nohost"))
        }
        #expect(DiscoveryError.unknownScheme("zk://x").description.contains("use file:PATH"))
    }

    @Test("a member's status encodes every documented key, pid as null when unknown")
    func statusJSON() throws {
        let s = MemberStatus(id: "w1", role: "active", state: .suspect, pid: nil, address: "10.0.0.2:9000")
        let object = try JSONSerialization.jsonObject(with: JSONEncoder().encode(ClusterStatus(members: [s]))) as! [String: Any]
        let member = (object["members"] as! [[String: Any]])[0]
        let keys: Set<String> = [
            "id", "role", "state", "pid", "address", "running", "waiting", "kv_blocks_used", "kv_blocks_total", "model", "model_digest",
        ]
        #expect(keys.isSubset(of: Set(member.keys)))
        #expect(member["pid"] is NSNull)
        #expect(member["state"] as? String == "suspect")
    }
}
