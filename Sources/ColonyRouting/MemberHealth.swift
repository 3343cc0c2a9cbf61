/// Whether a member is alive, as one router judges it from what it hears: the failure
/// detector's state machine for one member, a pure value with the clock passed in.
///
/// - An answer (a status reply, a token) makes a member `ready` (or `draining`, when it says
///   so), from any state: a suspect that answers again rejoins at once.
/// - A failure (a stalled stream, a broken connection, a missed keepalive, a status call
///   past its deadline) makes a `ready` or `draining` member `suspect` the same moment —
///   not when a lease runs out, which is what leaves other routers sending to dead workers.
/// - A suspect silent for `deadAfter` is `dead`: its spare is promoted and its process may
///   be replaced. It still rejoins if it answers later (a stopped process that was resumed).
/// - A member refused for serving something else stays `dead` whatever it answers.
public struct MemberHealth: Sendable, Equatable {
    public private(set) var state: MemberState = .starting
    /// Why it is suspect, dead or refused.
    public private(set) var detail: String?
    /// When it last answered.
    public private(set) var lastHeard: ContinuousClock.Instant?
    /// When it was last heard from before it failed: where a time to repair starts.
    public private(set) var failedAt: ContinuousClock.Instant?
    private var suspectSince: ContinuousClock.Instant?
    private var refused = false

    public init() {}

    /// The member answered. Returns true when that brought it back from suspect or dead.
    @discardableResult
    public mutating func heard(at now: ContinuousClock.Instant, draining: Bool = false) -> Bool {
        guard !refused else { return false }
        let recovered = state == .suspect || state == .dead
        state = draining ? .draining : .ready
        detail = nil
        lastHeard = now
        suspectSince = nil
        if recovered { failedAt = nil }
        return recovered
    }

    /// Something the member should have done failed. Returns true when that made it suspect.
    @discardableResult
    public mutating func failed(_ why: String, at now: ContinuousClock.Instant) -> Bool {
        guard state == .ready || state == .draining || state == .starting else { return false }
        state = .suspect
        detail = why
        suspectSince = now
        failedAt = lastHeard ?? now
        return true
    }

    /// Moves a suspect silent for `deadAfter` to dead. Returns true when it did.
    @discardableResult
    public mutating func expire(at now: ContinuousClock.Instant, deadAfter: Duration) -> Bool {
        guard state == .suspect, let since = suspectSince, now - since >= deadAfter else { return false }
        state = .dead
        detail = "no answer for \(deadAfter) after: \(detail ?? "a failure")"
        return true
    }

    /// The member can never serve this router (another model, another block size).
    public mutating func refuse(_ why: String) {
        refused = true
        state = .dead
        detail = why
    }
}
