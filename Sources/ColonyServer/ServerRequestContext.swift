import Hummingbird
import NIOCore

/// The request context of `OpenAIServer`'s routes: Hummingbird's basic context plus the
/// connection's channel, which a handler needs to close a connection it will not read on.
public struct ServerRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The connection the request came in on.
    let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}
