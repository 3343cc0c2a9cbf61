import Hummingbird

/// Requires `Authorization: Bearer KEY` on every route but /health when a key is set.
struct APIKeyMiddleware: RouterMiddleware {
    typealias Context = ServerRequestContext
    let key: String?
    let metrics: ServerMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let key, request.uri.path != "/health" else { return try await next(request, context) }
        guard let sent = request.headers[.authorization], Self.constantTimeEquals(sent, "Bearer \(key)") else {
            metrics.count("unauthorized")
            throw APIError.unauthorized
        }
        return try await next(request, context)
    }

    /// Compares every byte whatever the first difference, so the time taken does not tell a
    /// client how much of a guessed key was right. (The length still shows; keys are not
    /// secret in length.)
    static func constantTimeEquals(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8)
        let y = Array(b.utf8)
        var difference: UInt8 = x.count == y.count ? 0 : 1
        for i in 0..<max(x.count, y.count) {
            difference |= (i < x.count ? x[i] : 0) ^ (i < y.count ? y[i] : 0)
        }
        return difference == 0
    }
}
