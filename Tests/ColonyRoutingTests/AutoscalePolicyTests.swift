import ColonyRouting
import Testing

@Suite("Autoscaling on queue length, the clock passed in")
struct AutoscalePolicyTests {
    let t0 = ContinuousClock.now

    func policy(_ min: Int = 1, _ max: Int = 3) -> AutoscalePolicy {
        AutoscalePolicy(minReplicas: min, maxReplicas: max, targetQueue: 4, upDelay: .seconds(30), downDelay: .seconds(600))
    }

    @Test("a queue above target scales up only after the up delay, to what the queue asks, within max")
    func scaleUpAfterDelay() {
        var p = policy(1, 3)
        for s in 0..<30 { #expect(p.decide(.init(queueDepth: 10, ready: 1), at: t0 + .seconds(s)) == 1, "second \(s)") }
        #expect(p.decide(.init(queueDepth: 10, ready: 1), at: t0 + .seconds(30)) == 3, "ceil(1 × 10/4) = 3")
        var q = policy(1, 2)
        for s in 0..<30 { _ = q.decide(.init(queueDepth: 40, ready: 1), at: t0 + .seconds(s)) }
        #expect(q.decide(.init(queueDepth: 40, ready: 1), at: t0 + .seconds(30)) == 2, "never above max")
    }

    @Test("a burst shorter than the up delay changes nothing; a queue within the tolerance wants nothing")
    func hysteresis() {
        var p = policy(1, 3)
        for s in 0..<20 { _ = p.decide(.init(queueDepth: 12, ready: 1), at: t0 + .seconds(s)) }
        // The burst ends: the mean falls back to the target, the wish is dropped.
        for s in 20..<40 { #expect(p.decide(.init(queueDepth: 4, ready: 1), at: t0 + .seconds(s)) == 1) }
        for s in 40..<200 { #expect(p.decide(.init(queueDepth: s % 2 == 0 ? 8 : 9, ready: 2), at: t0 + .seconds(s)) == 2) }
    }

    @Test("an idle cluster scales down to min only after the down delay")
    func scaleDown() {
        var p = policy(1, 3)
        for s in stride(from: 0, to: 600, by: 5) {
            #expect(p.decide(.init(queueDepth: 0, ready: 3), at: t0 + .seconds(s)) == 3)
        }
        #expect(p.decide(.init(queueDepth: 0, ready: 3), at: t0 + .seconds(600)) == 1)
    }

    @Test("an empty queue while full batches run is no reason to shrink; once they finish it is")
    func busyWorkersStay() {
        var p = policy(1, 3)
        for s in stride(from: 0, through: 900, by: 5) {
            #expect(p.decide(.init(queueDepth: 0, running: 24, ready: 3), at: t0 + .seconds(s)) == 3)
        }
        // The 10 s window forgets the busy samples by 915 s; the down delay runs from there.
        for s in stride(from: 905, to: 1515, by: 5) {
            #expect(p.decide(.init(queueDepth: 0, running: 3, ready: 3), at: t0 + .seconds(s)) == 3)
        }
        #expect(p.decide(.init(queueDepth: 0, running: 3, ready: 3), at: t0 + .seconds(1515)) == 1, "3 running fit one worker at target 4")
    }

    @Test("workers still loading count as started, not as serving: no decision until they are ready")
    func loading() {
        var p = policy(1, 3)
        for s in 0..<100 { #expect(p.decide(.init(queueDepth: 30, ready: 1, loading: 2), at: t0 + .seconds(s)) == 3) }
        #expect(p.decide(.init(queueDepth: 0, ready: 0, loading: 1), at: t0) == 1)
    }

    @Test("fewer workers than min, or more than max, are corrected at once")
    func bounds() {
        var p = policy(2, 4)
        #expect(p.decide(.init(queueDepth: 0, ready: 1), at: t0) == 2)
        #expect(p.decide(.init(queueDepth: 100, ready: 6), at: t0 + .seconds(1)) == 4)
    }

    @Test("a bursty trace: up after the delay while the burst lasts, down after the quiet delay, never a flap")
    func burstyTrace() {
        var p = AutoscalePolicy(minReplicas: 1, maxReplicas: 3, targetQueue: 4, upDelay: .seconds(30), downDelay: .seconds(120))
        var workers = 1
        var changes: [(second: Int, to: Int)] = []
        var queue = 0.0
        for s in 0..<900 {
            // 300 s of 12 requests/s arriving, then quiet; each worker finishes 5 per second.
            let arriving = s < 300 ? 12.0 : 0
            queue = max(0, queue + arriving - 5 * Double(workers))
            let next = p.decide(.init(queueDepth: Int(queue), ready: workers), at: t0 + .seconds(s))
            if next != workers {
                changes.append((s, next))
                workers = next
            }
        }
        #expect(changes.first?.to ?? 0 > 1)
        #expect((30...40).contains(changes.first?.second ?? 0), "up after 30 s of queue: \(changes)")
        #expect(changes.last?.to == 1)
        #expect((300 + 120...300 + 200).contains(changes.last?.second ?? 0), "down after 120 s of quiet: \(changes)")
        #expect(changes.count <= 4, "no flapping: \(changes)")
        #expect(changes.allSatisfy { (1...3).contains($0.to) })
    }
}
