import ColonyOpenAI
import Foundation
import Hummingbird
import NIOCore

/// Answers a request whose body is over the limit (413) and then closes the connection.
///
/// Hummingbird keeps a connection open after any response unless the *request* said
/// `Connection: close`, and reads the rest of the body first: a client that declared a large
/// body and waits would wait for ever. The 413 says `Connection: close`, and once it is written
/// the server shuts its sending side, so the client reads the answer and then end of file. The
/// receiving side stays open until the client goes, so that unread bytes do not turn the
/// close into a reset that could destroy the answer before the client reads it.
struct ClosingOversizedRequests: RouterMiddleware {
    typealias Context = ServerRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError where error.status == .contentTooLarge {
            let data = try error.bodyData()
            let channel = context.channel
            return Response(
                status: error.status, headers: [.contentType: "application/json", .connection: "close"],
                body: ResponseBody(contentLength: data.count) { writer in
                    try await writer.write(ByteBuffer(bytes: data))
                    try await writer.finish(nil)
                    // Queued on the channel's event loop after the writes above, so it runs after them.
                    channel.close(mode: .output, promise: nil)
                })
        }
    }
}
