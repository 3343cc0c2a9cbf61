import ColonyRouting
import Testing

@Suite("Failure detector: one member's health, the clock passed in")
struct MemberHealthTests {
    let t0 = ContinuousClock.now

    @Test("a failure makes a ready member suspect at once; an answer brings it back")
    func suspectThenBack() {
        var h = MemberHealth()
        #expect(h.state == .starting)
        h.heard(at: t0)
        #expect(h.state == .ready)
        let suspected = h.failed("status call failed", at: t0 + .seconds(1))
        #expect(suspected)
        #expect(h.state == .suspect)
        #expect(h.detail == "status call failed")
        #expect(h.failedAt == t0, "a repair is timed from the last answer before the failure")
        let again = h.failed("again", at: t0 + .seconds(1.5))
        #expect(!again, "a second failure changes nothing")
        let recovered = h.heard(at: t0 + .seconds(1.8))
        #expect(recovered)
        #expect(h.state == .ready)
        #expect(h.detail == nil)
        #expect(h.failedAt == nil)
    }

    @Test("a suspect silent for the deadline becomes dead, not a moment before")
    func deadAfterDeadline() {
        var h = MemberHealth()
        h.heard(at: t0)
        h.failed("stream stalled", at: t0 + .seconds(1))
        let early = h.expire(at: t0 + .milliseconds(2999), deadAfter: .seconds(2))
        #expect(!early)
        #expect(h.state == .suspect)
        let due = h.expire(at: t0 + .seconds(3), deadAfter: .seconds(2))
        #expect(due)
        #expect(h.state == .dead)
        #expect(h.detail?.contains("stream stalled") == true)
        let twice = h.expire(at: t0 + .seconds(9), deadAfter: .seconds(2))
        #expect(!twice, "dead once")
        let back = h.heard(at: t0 + .seconds(10))
        #expect(back, "a stopped process that resumes rejoins")
        #expect(h.state == .ready)
    }

    @Test("a draining member that fails is suspect; one that answers as draining stays draining")
    func draining() {
        var h = MemberHealth()
        h.heard(at: t0, draining: true)
        #expect(h.state == .draining)
        let suspected = h.failed("connection broken", at: t0 + .seconds(1))
        #expect(suspected)
        #expect(h.state == .suspect)
        h.heard(at: t0 + .seconds(2), draining: true)
        #expect(h.state == .draining)
    }

    @Test("a refused member stays dead whatever it answers; ready and dead members do not expire")
    func refused() {
        var h = MemberHealth()
        h.heard(at: t0)
        let expired = h.expire(at: t0 + .seconds(100), deadAfter: .seconds(1))
        #expect(!expired)
        h.refuse("it serves model 'other'")
        #expect(h.state == .dead)
        let back = h.heard(at: t0 + .seconds(1))
        #expect(!back)
        #expect(h.state == .dead)
        let suspected = h.failed("x", at: t0 + .seconds(2))
        #expect(!suspected)
        #expect(h.detail == "it serves model 'other'")
    }

    @Test("a member that never answered and fails is suspect, timed from the failure itself")
    func neverAnswered() {
        var h = MemberHealth()
        let suspected = h.failed("connection refused", at: t0 + .seconds(4))
        #expect(suspected)
        #expect(h.failedAt == t0 + .seconds(4))
        #expect(h.lastHeard == nil)
    }
}
