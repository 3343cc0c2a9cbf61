import ColonyEngine
import ColonyRouting
import Foundation
import Synchronization
import Testing

@testable import ColonyCluster

#if canImport(Glibc)
    import Glibc
#endif

/// A value behind a lock, shared by a test's tasks.
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    func withLock<T: Sendable>(_ body: (inout Value) -> T) -> T { mutex.withLock { body(&$0) } }
}

/// Faults on real worker processes, each on a host of its own (a network namespace, or a
/// 127.0.0.x address), with etcd membership and a router in this process: during streams
/// of greedy requests one worker each round is killed, stopped, cut off or told to drain,
/// and every request must end with the text an undisturbed engine produces.
@Suite("cluster faults: kill, stop, link down, drain; etcd outage; router restart", .serialized)
struct ClusterFaultTests {
    static let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("colony")
    static let perRound = 36

    /// The cluster under test: three worker hosts (two actives and a spare to start with).
    final class Rig: @unchecked Sendable {
        let hosts: TestHosts
        let etcd: EtcdServer
        let logs = NSTemporaryDirectory() + "colony-faults-\(UUID().uuidString)"
        var processes: [String: Process] = [:]
        var backend: RoutedBackend!
        let reference: Engine

        init() async throws {
            try FileManager.default.createDirectory(atPath: logs, withIntermediateDirectories: true)
            let hosts = TestHosts(count: 3)
            self.hosts = hosts
            etcd = try EtcdServer(hosts: (1...3).map { hosts.gateway($0) })
            reference = try TinyCluster.engine()
            for (i, role) in [(1, "active"), (2, "active"), (3, "spare")] { try start(i, role: role) }
            backend = makeRouter()
            do {
                try await until("2 actives and a spare ready", timeout: .seconds(60)) { [self] in
                    backend.state.withLock { s in s.routable.count == 2 && s.readySpare != nil }
                }
            } catch {
                print(diagnosis())
                await stop()
                throw error
            }
        }

        /// What the router sees of each member and the end of each worker's log: printed when
        /// the rig never comes up, since `stop()` removes the logs.
        func diagnosis() -> String {
            let members = backend.state.withLock { s in
                s.members.values.map { "\($0.member.id) \($0.role) \($0.state) \($0.detail ?? "")" }.sorted()
            }
            let logs = processes.keys.sorted().map { id in
                let all = (try? FileManager.default.contentsOfDirectory(atPath: self.logs)) ?? []
                let tails = all.filter { $0.hasPrefix(id + "-") }.sorted().map { name in
                    let text = (try? String(contentsOfFile: "\(self.logs)/\(name)", encoding: .utf8)) ?? ""
                    return text.split(separator: "\n").suffix(15).joined(separator: "\n")
                }
                return "--- \(id) log:\n" + tails.joined(separator: "\n")
            }
            return "ClusterFaultTests rig: members \(members)\n" + logs.joined(separator: "\n")
        }

        /// Runs `body` on a fresh rig and takes it all down afterwards, however `body` ends:
        /// no worker process, namespace or etcd outlives the test.
        static func with(_ body: (Rig) async throws -> Void) async throws {
            let rig = try await Rig()
            do { try await body(rig) } catch {
                await rig.stop()
                throw error
            }
            await rig.stop()
        }

        func makeRouter() -> RoutedBackend {
            var config = RouterConfiguration(model: "tiny", modelDigest: try! ModelDigest.of(path: TinyCluster.modelPath))
            config.pollInterval = .milliseconds(200)
            config.callTimeout = .seconds(1)
            config.deadAfter = .seconds(1)
            config.dispatchTimeout = .seconds(20)
            return RoutedBackend(
                tokenizer: try! TinyCluster.load().1, contextLength: 256, configuration: config,
                discovery: try! EtcdDiscovery(url: etcd.url, ttl: 3))
        }

        /// Starts worker `w<i>` on host `i` (it replaces whatever process had that id).
        func start(_ i: Int, role: String) throws {
            processes["w\(i)"] = try hosts.launch(
                i, ClusterFaultTests.binary,
                [
                    "worker", "--model", TinyCluster.modelPath, "--model-name", "tiny", "--id", "w\(i)", "--role", role,
                    "--host", hosts.address(i), "--discovery", "etcd://\(hosts.gateway(i)):\(etcd.clientPort)", "--threads", "1",
                    "--kv-blocks", "64", "--max-batch", "4", "--drain-timeout", "0.5",
                ], log: "\(logs)/w\(i)-\(Date().timeIntervalSince1970).log")
        }

        func stop() async {
            await backend?.shutdown(cancelInFlight: true)
            for p in processes.values where p.isRunning {
                kill(p.processIdentifier, SIGCONT)
                kill(p.processIdentifier, SIGKILL)
                p.waitUntilExit()
            }
            await reference.shutdown()
            etcd.stop()
            hosts.remove()
            try? FileManager.default.removeItem(atPath: logs)
        }

        /// Requests of one round: distinct prompts, greedy, long enough to be cut mid-stream.
        func requests(_ round: Int) -> [EngineRequest] {
            (0..<ClusterFaultTests.perRound).map { n in
                EngineRequest(
                    id: "r\(round)-\(n)", promptTokens: prompt(round * 100 + n, 6 + n % 5), maxTokens: 96, stopTokens: [-1])
            }
        }

        /// Runs a round's requests through the router, calls `fault` with the busiest active
        /// once every stream has begun, and checks each output against the reference.
        /// Returns the seconds from the fault until the router stopped routing to the victim.
        func round(
            _ n: Int, _ name: String, fault: @escaping @Sendable (String) async throws -> Void
        ) async throws -> (victim: String, detected: Double?) {
            let requests = requests(n)
            var expected: [String: Outcome] = [:]
            for r in requests { expected[r.id] = try await Outcome.collect(try reference.submit(r)) }
            let begun = Locked<Set<String>>([])
            let victim = Locked<String?>(nil)
            let detected = Locked<Double?>(nil)
            let backend = backend!
            let outcomes = try await withThrowingTaskGroup(of: (String, Outcome)?.self) { group in
                for r in requests {
                    group.addTask {
                        var o = Outcome()
                        for try await event in try await backend.submit(r) {
                            switch event {
                            case .token(let id, let text):
                                o.tokens.append(id)
                                o.text += text
                                if o.tokens.count == 2 { _ = begun.withLock { $0.insert(r.id) } }
                            case .finished(let reason, let usage, let tail):
                                o.reason = reason
                                o.usage = usage
                                o.text += tail
                            }
                        }
                        return (r.id, o)
                    }
                }
                group.addTask {
                    try await until("round \(name): streams begun", timeout: .seconds(60)) {
                        begun.withLock { $0.count } >= ClusterFaultTests.perRound / 2
                    }
                    let target = backend.state.withLock { s in
                        s.members.values.filter { $0.state == .ready && $0.role == .active }.max { $0.inFlight < $1.inFlight }!.member.id
                    }
                    victim.withLock { $0 = target }
                    let at = ContinuousClock.now
                    try await fault(target)
                    while ContinuousClock.now - at < .seconds(30) {
                        if backend.state.withLock({ $0.members[target]?.state != .ready }) {
                            detected.withLock { $0 = (ContinuousClock.now - at).seconds }
                            break
                        }
                        try await Task.sleep(for: .milliseconds(10))
                    }
                    return nil
                }
                var all: [String: Outcome] = [:]
                for try await case (let id, let o)? in group { all[id] = o }
                return all
            }
            for r in requests {
                let got = outcomes[r.id]
                #expect(got?.tokens == expected[r.id]?.tokens, "round \(name): \(r.id) tokens")
                #expect(got?.text == expected[r.id]?.text, "round \(name): \(r.id) text")
                #expect(got?.reason == .length)
                #expect(got?.usage?.completionTokens == 96)
            }
            return (victim.withLock { $0 }!, detected.withLock { $0 })
        }

        func pid(_ id: String) -> pid_t { processes[id]!.processIdentifier }

        /// Waits until the router counts `actives` ready actives and a ready spare again.
        func repaired(actives: Int = 2) async throws {
            try await until("repaired", timeout: .seconds(60)) { [self] in
                backend.state.withLock { s in s.routable.count >= actives && s.readySpare != nil }
            }
        }
    }

    @Test("every request survives SIGKILL, SIGSTOP, a cut link and SIGTERM of its worker, with the undisturbed text")
    func faults() async throws {
        try await Rig.with { rig in try await faults(rig) }
    }

    func faults(_ rig: Rig) async throws {
        var report: [String] = []
        let before = rig.backend.state.withLock { $0.mttr.count }

        // SIGKILL: the connection breaks; the spare is promoted; the supervisor (this test)
        // starts the dead worker again as a spare.
        let killed = try await rig.round(1, "kill") { victim in kill(rig.pid(victim), SIGKILL) }
        report.append("kill: detected after \(killed.detected.map { String(format: "%.3f s", $0) } ?? "never")")
        try rig.start(Int(killed.victim.dropFirst())!, role: "spare")
        try await rig.repaired()

        // SIGSTOP: nothing breaks, the worker just stops answering.
        let stopped = try await rig.round(2, "stop") { victim in kill(rig.pid(victim), SIGSTOP) }
        report.append("stop: detected after \(stopped.detected.map { String(format: "%.3f s", $0) } ?? "never")")
        let frozen = rig.processes[stopped.victim]!
        kill(frozen.processIdentifier, SIGKILL)
        kill(frozen.processIdentifier, SIGCONT)
        frozen.waitUntilExit()
        try rig.start(Int(stopped.victim.dropFirst())!, role: "spare")
        try await rig.repaired()

        // Link down: the worker is alive but unreachable, etcd included, so its lease runs
        // out; when the link returns etcd tells it so and it stops (no zombie).
        if rig.hosts.namespaces {
            let cut = try await rig.round(3, "link down") { victim in rig.hosts.setLink(Int(victim.dropFirst())!, up: false) }
            report.append("link down: detected after \(cut.detected.map { String(format: "%.3f s", $0) } ?? "never")")
            try await Task.sleep(for: .seconds(6))  // past the worker's 5 s lease
            let i = Int(cut.victim.dropFirst())!
            rig.hosts.setLink(i, up: true)
            let zombie = rig.processes[cut.victim]!
            try await until("the cut-off worker stops on its own once etcd says its lease is gone", timeout: .seconds(20)) {
                !zombie.isRunning
            }
            #expect(zombie.terminationStatus != 0)
            try rig.start(i, role: "spare")
            try await rig.repaired()
        } else {
            print("ClusterFaultTests: network namespaces unavailable (not root?): the link-down case is skipped")
        }

        // SIGTERM: the worker drains for 0.5 s, then ends what is left with UNAVAILABLE,
        // and the router moves it (that a drain is no failure is checked in process, where
        // no loaded machine can make a status call late).
        let drained = try await rig.round(4, "drain") { victim in kill(rig.pid(victim), SIGTERM) }
        try await until("the drained worker exits") { !rig.processes[drained.victim]!.isRunning }
        #expect(rig.processes[drained.victim]!.terminationStatus == 0)

        let (mttr, moved, failed, pauses) = rig.backend.state.withLock {
            ($0.mttr, $0.migrations, $0.migrationFailures, $0.migrationPauses.sorted())
        }
        // At least one repair per failure (a status call late on a loaded machine adds a short one).
        #expect(mttr.count - before >= (rig.hosts.namespaces ? 3 : 2), "one repair per failure")
        #expect(moved > 0)
        #expect(failed == 0)
        report.append("MTTR with a spare: \(mttr.dropFirst(before).map { String(format: "%.2f s", $0) })")
        report.append("requests moved: \(moved), lost: \(failed)")
        if !pauses.isEmpty {
            let q = { (p: Double) in pauses[min(pauses.count - 1, Int(p * Double(pauses.count)))] }
            report.append(String(format: "pause of moved requests p50 %.3f s, p99 %.3f s (%d)", q(0.5), q(0.99), pauses.count))
        }

        // Nothing left charged at the router or referenced on a worker.
        try await until("every KV block free and every load back to zero", timeout: .seconds(20)) {
            rig.backend.state.withLock { s in
                s.members.values.allSatisfy { $0.inFlight == 0 && $0.activeBlocks == 0 && ($0.status?.kvBlocksUsed ?? 0) == 0 }
            }
        }
        print("ClusterFaultTests: " + report.joined(separator: "; "))
    }

    @Test("etcd stopped for 10 s changes nothing; a restarted router rebuilds its KV index from the workers")
    func etcdOutageAndRouterRestart() async throws {
        try await Rig.with { rig in try await outageAndRestart(rig) }
    }

    func outageAndRestart(_ rig: Rig) async throws {
        // Warm the workers' caches with prompts the new router must find again.
        let warm = (0..<4).map { n in EngineRequest(id: "warm\(n)", promptTokens: prompt(900 + n, 24), maxTokens: 4, stopTokens: [-1]) }
        for r in warm { _ = try await Outcome.collect(try await rig.backend.submit(r)) }

        rig.etcd.stop()
        let outageStart = ContinuousClock.now
        var served = 0
        while ContinuousClock.now - outageStart < .seconds(10) {
            let r = EngineRequest(id: "o\(served)", promptTokens: prompt(500 + served, 8), maxTokens: 8, stopTokens: [-1])
            let o = try await Outcome.collect(try await rig.backend.submit(r))
            #expect(o.reason == .length)
            served += 1
            try await Task.sleep(for: .milliseconds(250))
        }
        #expect(rig.backend.state.withLock { $0.discoveryError } != nil, "the router saw the outage")
        #expect(rig.backend.state.withLock { $0.routable.count } == 2, "and kept routing to the workers it knew")
        try rig.etcd.start()
        try await until("every worker listed again", timeout: .seconds(20)) {
            (try? EtcdDiscovery(url: rig.etcd.url).members().count) == 3
        }
        #expect(rig.processes.values.allSatisfy { $0.isRunning }, "no worker stopped for an etcd outage")

        // A new router: it knows nothing until the workers' dumps arrive.
        await rig.backend.shutdown(cancelInFlight: false)
        rig.backend = rig.makeRouter()
        try await until("the new router sees both actives and has their caches", timeout: .seconds(30)) {
            rig.backend.state.withLock { s in s.routable.count == 2 && s.index.lastEventID.count >= 2 }
        }
        for r in warm {
            var again = r
            again.id = r.id + "-again"
            let o = try await Outcome.collect(try await rig.backend.submit(again))
            #expect((o.usage?.cachedPromptTokens ?? 0) > 0, "\(r.id) routed back to the worker that holds its prefix")
        }
        print("ClusterFaultTests: \(served) requests served while etcd was down for 10 s")
    }
}
