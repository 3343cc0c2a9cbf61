import Synchronization

/// Runs `body` and returns its result, or `nil` once `seconds` have passed.
///
/// Unlike a task group, this does not wait for `body` after the deadline: a tool that
/// ignores cancellation (an MCP server that never answers, a blocking call) must not hold
/// up the agent. The late body is cancelled and its result dropped.
func firstResult<T: Sendable>(within seconds: Double, _ body: @escaping @Sendable () async -> T) async -> T? {
    let continuation = Mutex<CheckedContinuation<T?, Never>?>(nil)
    let resume: @Sendable (T?) -> Void = { value in
        continuation.withLock { c in
            c?.resume(returning: value)
            c = nil
        }
    }
    return await withCheckedContinuation { (c: CheckedContinuation<T?, Never>) in
        continuation.withLock { $0 = c }
        let work = Task { resume(await body()) }
        Task {
            try? await Task.sleep(for: .seconds(seconds))
            work.cancel()
            resume(nil)
        }
    }
}
