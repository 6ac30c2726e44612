/// What an HTTP server of AgentOS (the gateway, `agentos sandbox`) accepts from a connection,
/// enforced by `ConnectionGuard` below Hummingbird.
public struct HTTPServerLimits: Sendable, Equatable {
    /// Largest request head (request line and headers), in bytes; past it, `431`.
    public var maxHeadBytes = 32 << 10
    /// Most header fields in a request; past it, `431`.
    public var maxHeaderCount = 100
    /// After an answer that ends the connection while the client may still be sending, how
    /// long the server keeps reading and dropping what arrives before it closes, so that a
    /// client that reads only once it has sent everything still gets the answer.
    public var lingerTime: Duration = .seconds(10)
    /// How many bytes it drops at most in that time.
    public var lingerBytes = 128 << 20

    /// The defaults.
    public init() {}
}
