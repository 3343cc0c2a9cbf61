/// A request body that decodes as JSON but breaks one of the API's rules, with the field
/// it concerns. The server answers it as a 400 with `param` set.
public struct OpenAIRequestError: Error, Equatable, CustomStringConvertible {
    public let message: String
    /// The request field at fault, as OpenAI's error body names it.
    public let param: String?

    public init(_ message: String, param: String? = nil) {
        self.message = message
        self.param = param
    }

    public var description: String { message }
}
