import ColonyHTTP
import ColonyRouting
import Foundation
import Logging

/// The autoscaling controller of `cluster up --autoscale`: once a second it reads the
/// router's members and queue, asks an `AutoscalePolicy` how many workers to run, and acts
/// through the supervisor. Up: ready spares are promoted first, then new workers started.
/// Down: the ready actives with the fewest requests get SIGTERM, so they drain and the
/// router moves what is left; a worker still loading is never stopped.
public final class Autoscaler: Sendable {
    private let supervisor: ProcessSupervisor
    private let router: HTTPClient.Endpoint
    private let workerArguments: @Sendable (String) -> [String]
    private let timeline: FileHandle?
    private let logger = Logger(label: "colony.autoscaler")

    /// - Parameters:
    ///   - workerArguments: the arguments of a new active worker with the given id.
    ///   - timeline: where to append a CSV line per tick (seconds, queue depth, ready,
    ///     loading, desired), for plotting.
    public init(
        supervisor: ProcessSupervisor, router: HTTPClient.Endpoint, timeline: String?,
        workerArguments: @escaping @Sendable (String) -> [String]
    ) throws {
        self.supervisor = supervisor
        self.router = router
        self.workerArguments = workerArguments
        if let timeline {
            FileManager.default.createFile(atPath: timeline, contents: Data("seconds,queue_depth,ready,loading,desired\n".utf8))
            self.timeline = FileHandle(forWritingAtPath: timeline)
            self.timeline?.seekToEndOfFile()
        } else {
            self.timeline = nil
        }
    }

    /// Runs until cancelled. Spares count toward the policy's maximum.
    public func run(_ initial: AutoscalePolicy) async {
        var policy = initial
        let start = ContinuousClock.now
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(1))
            guard let status = try? await readStatus() else { continue }
            let workers = status.members.filter { $0.role != "router" }
            let serving = workers.filter { $0.role == "active" && $0.state == .ready }
            let known = Set(workers.filter { $0.state == .ready || $0.state == .draining }.map(\.id))
            let started = supervisor.running.filter { $0.hasPrefix("worker-") || $0.hasPrefix("spare-") }
            let spares = workers.filter { $0.role == "spare" && $0.state == .ready }
            let listedSpares = Set(workers.filter { $0.role == "spare" }.map(\.id))
            let loading = started.filter { !known.contains($0) && !listedSpares.contains($0) }
            policy.maxReplicas = max(initial.minReplicas, initial.maxReplicas - listedSpares.count)
            let queue = status.members.first { $0.role == "router" }?.waiting ?? 0
            let now = ContinuousClock.now
            let observation = AutoscalePolicy.Observation(
                queueDepth: queue, running: serving.reduce(0) { $0 + $1.running }, ready: serving.count, loading: loading.count)
            let desired = policy.decide(observation, at: now)
            timeline?.write(
                Data(String(format: "%.1f,%d,%d,%d,%d\n", (now - start).seconds, queue, serving.count, loading.count, desired).utf8))
            let have = serving.count + loading.count
            if desired > have {
                await grow(by: desired - have, spares: spares, taken: Set(started))
            } else if desired < have {
                let idlest = serving.sorted { ($0.running + $0.waiting, $0.id) < ($1.running + $1.waiting, $1.id) }
                for m in idlest.prefix(have - desired) {
                    logger.notice("scaling down: \(m.id) (queue \(queue) for \(serving.count) ready workers)")
                    supervisor.retire(m.id)
                }
            }
        }
    }

    private func grow(by count: Int, spares: [MemberStatus], taken: Set<String>) async {
        var left = count
        for spare in spares.prefix(left) {
            do {
                try await promoteWorker(at: spare.address)
                logger.notice("scaling up: spare \(spare.id) promoted")
                left -= 1
            } catch {
                logger.warning("could not promote \(spare.id): \(error)")
            }
        }
        var n = 1
        while left > 0 {
            while taken.contains("worker-\(n)") || supervisor.running.contains("worker-\(n)") { n += 1 }
            do {
                try supervisor.add("worker-\(n)", workerArguments("worker-\(n)"))
                logger.notice("scaling up: worker-\(n) started")
            } catch {
                logger.error("could not start worker-\(n): \(error)")
            }
            left -= 1
            n += 1
        }
    }

    private func readStatus() async throws -> ClusterStatus {
        let router = router
        return try await Task.detached { try ClusterStatus.fetch(from: router, timeout: 5) }.value
    }
}
