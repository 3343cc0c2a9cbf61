import ColonyEngine
import ColonyRouting
import Foundation
import Synchronization
import Testing

@testable import ColonyCluster

@Suite("etcd membership (a real etcd on a free port)", .serialized)
struct EtcdDiscoveryTests {
    @Test("members register under a lease, are listed, update, leave; a live duplicate id is refused")
    func registerListLeave() throws {
        let etcd = try EtcdServer()
        let a = try EtcdDiscovery(url: etcd.url + "/t1", ttl: 2)
        let b = try EtcdDiscovery(url: etcd.url + "/t1", ttl: 2)
        #expect(try a.members().isEmpty)
        let pid = Int(ProcessInfo.processInfo.processIdentifier)
        try a.register(ClusterMember(id: "w1", role: .spare, address: "10.0.0.1:9001", pid: pid))
        try b.register(ClusterMember(id: "w2", role: .active, address: "10.0.0.2:9002", pid: 1))
        #expect(try a.members().map(\.id) == ["w1", "w2"])
        try a.register(ClusterMember(id: "w1", role: .active, address: "10.0.0.1:9001", pid: pid))
        #expect(try b.members().first?.role == .active, "a promotion updates the entry in place")
        // Another process on another host claims w2 while its owner keeps the lease alive.
        let c = try EtcdDiscovery(url: etcd.url + "/t1", ttl: 2)
        #expect(throws: DiscoveryError.duplicateID("w2", addresses: ["10.0.0.2:9002", "10.0.0.3:9003"])) {
            try c.register(ClusterMember(id: "w2", role: .active, address: "10.0.0.3:9003", pid: 7))
        }
        try a.deregister(id: "w1")
        #expect(try b.members().map(\.id) == ["w2"])
        let other = try EtcdDiscovery(url: etcd.url + "/t2")
        #expect(try other.members().isEmpty, "prefixes keep clusters apart")
    }

    @Test("a lease etcd says is gone stops the worker; a stopped etcd is waited out and the worker listed again")
    func leaseLossAndOutage() async throws {
        let etcd = try EtcdServer()
        let discovery = try EtcdDiscovery(url: etcd.url + "/t3", ttl: 2)
        let node = WorkerNode(
            engine: try TinyCluster.engine(), identity: WorkerIdentity(id: "w1", role: .active, model: "tiny", modelDigest: "d"),
            discovery: discovery, host: "127.0.0.1", port: 0)
        let serving = Task { try await node.run() }
        try await until("w1 listed") { (try? discovery.members().count) == 1 }

        // An outage longer than the lease: the worker serves on, and is listed again after.
        etcd.stop()
        try await Task.sleep(for: .seconds(4))
        #expect(node.engine.health == .ready)
        try etcd.start()
        try await until("w1 listed again") { (try? discovery.members().map(\.id)) == ["w1"] }

        // An operator (or an expiry) removes the lease: etcd answers that it is gone.
        let leases = String(decoding: try etcd.post("/v3/lease/leases", "{}"), as: UTF8.self)
        let id = try #require(leases.firstMatch(of: /"ID":"(\d+)"/)?.1)
        _ = try etcd.post("/v3/lease/revoke", #"{"ID":"\#(id)"}"#)
        await #expect(throws: WorkerNodeError.self) { try await serving.value }
    }

    @Test("bad etcd URLs are refused with the form to use")
    func badURLs() {
        for url in ["etcd://", "etcd://hostonly", "zk://h:1"] {
            #expect { try openDiscovery(url) } throws: { ($0 as? DiscoveryError)?.description.contains("etcd://HOST:PORT") == true }
        }
        #expect(throws: DiscoveryError.unknownScheme("file:")) { try openDiscovery("file:") }
    }
}
