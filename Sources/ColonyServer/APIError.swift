import ColonyEngine
import ColonyOpenAI
import Foundation
import Hummingbird

/// An error in OpenAI's shape: `{"error": {"message", "type", "param", "code"}}`, with the
/// HTTP status it maps to. Every failure leaves the server through this type.
public struct APIError: Error, HTTPResponseError, Equatable {
    public let status: HTTPResponse.Status
    public let message: String
    public let type: String
    public let param: String?
    public let code: String?

    public init(
        status: HTTPResponse.Status, message: String, type: String = "invalid_request_error",
        param: String? = nil, code: String? = nil
    ) {
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
    }

    static func badRequest(_ message: String, param: String? = nil) -> APIError {
        APIError(status: .badRequest, message: message, param: param)
    }

    static func modelNotFound(_ name: String, served: String) -> APIError {
        APIError(
            status: .notFound, message: "the model '\(name)' does not exist; this server serves '\(served)'",
            param: "model", code: "model_not_found")
    }

    static let unauthorized = APIError(
        status: .unauthorized, message: "missing or invalid API key; send 'Authorization: Bearer KEY'",
        type: "invalid_request_error", code: "invalid_api_key")

    /// Maps an engine refusal to its HTTP status.
    init(_ error: EngineError) {
        switch error {
        case .queueFull: self.init(status: .tooManyRequests, message: error.description, type: "rate_limit_error", code: "queue_full")
        case .shuttingDown, .unavailable: self.init(status: .serviceUnavailable, message: error.description, type: "server_error")
        case .promptTooLong: self.init(status: .badRequest, message: error.description, param: "messages", code: "context_length_exceeded")
        case .invalidRequest, .duplicateID: self.init(status: .badRequest, message: error.description)
        }
    }

    /// The body in OpenAI's error shape.
    func bodyData() throws -> Data {
        try JSONEncoder().encode(ErrorBody(error: .init(message: message, type: type, param: param, code: code)))
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: try bodyData())))
    }
}
