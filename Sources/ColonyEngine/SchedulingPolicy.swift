import Foundation

/// Decides the order in which waiting requests are admitted, and which running request is
/// preempted first (the last in that order).
public protocol SchedulingPolicy: Sendable {
    /// True when `a` should run before `b`.
    func precedes(_ a: EngineRequest, _ b: EngineRequest) -> Bool
}

/// First come, first served.
public struct FirstComeFirstServed: SchedulingPolicy {
    public init() {}
    public func precedes(_ a: EngineRequest, _ b: EngineRequest) -> Bool { a.arrival < b.arrival }
}

/// Higher `priority` first; arrival order among equals.
public struct PriorityFirst: SchedulingPolicy {
    public init() {}
    public func precedes(_ a: EngineRequest, _ b: EngineRequest) -> Bool {
        a.priority != b.priority ? a.priority > b.priority : a.arrival < b.arrival
    }
}
