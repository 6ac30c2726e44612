#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What an HTTP server of AgentOS (the gateway, `agentos sandbox`) accepts from a connection,
/// enforced by `ConnectionGuard` and `ConnectionLimiter` below Hummingbird.
public struct HTTPServerLimits: Sendable, Equatable {
    /// Largest request head (request line and headers), in bytes; past it, `431`.
    public var maxHeadBytes = 32 << 10
    /// Most header fields in a request; past it, `431`.
    public var maxHeaderCount = 100
    /// How long a client has to send a whole request head, counted from when the connection
    /// opened, or, for a later request, from its first byte. Past it the connection closes,
    /// with `408` if part of a head had arrived. Sending slowly does not extend it.
    public var headerTimeout: Duration = .seconds(10)
    /// How long a connection may have nothing to do: between requests (keep-alive), or while a
    /// request body stops arriving (then `408`). A request being handled or a response being
    /// written (a long poll, an event stream) is never cut.
    public var idleTimeout: Duration = .seconds(60)
    /// Connections served at once; past it a new one is answered `503 too_many_connections`
    /// and closed. Default: three quarters of `maxOpenConnections`.
    public var maxConnections: Int
    /// Connections served at once from one client address; past it, the same `503`.
    public var maxConnectionsPerAddress = 512
    /// Connections open at once, those being refused included. At it, the server stops
    /// accepting until one closes, so that it never runs out of file descriptors. Default:
    /// the process's limit (`ulimit -n`) less what the rest of the process needs.
    public var maxOpenConnections: Int
    /// After an answer that ends the connection while the client may still be sending, how
    /// long the server keeps reading and dropping what arrives before it closes, so that a
    /// client that reads only once it has sent everything still gets the answer.
    public var lingerTime: Duration = .seconds(10)
    /// How many bytes it drops at most in that time.
    public var lingerBytes = 128 << 20
    /// The same for a connection refused with `503`, which is kept shorter: a crowd of them
    /// must not hold descriptors for long.
    public var refusalLingerTime: Duration = .seconds(1)

    /// The defaults, for a process that may open `descriptorLimit` files.
    public init(descriptorLimit: Int = HTTPServerLimits.descriptorLimit()) {
        maxOpenConnections = Self.connectionBudget(descriptorLimit: descriptorLimit)
        maxConnections = maxOpenConnections * 3 / 4
    }

    /// The process's limit on open files (the soft `RLIMIT_NOFILE`).
    public static func descriptorLimit() -> Int {
        var limit = rlimit()
        #if canImport(Glibc)
        let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        #else
        let resource = RLIMIT_NOFILE
        #endif
        guard getrlimit(resource, &limit) == 0, limit.rlim_cur != rlim_t.max else { return 1 << 20 }
        return Int(clamping: limit.rlim_cur)
    }

    /// Connections a process limited to `descriptorLimit` files may hold: the rest of the
    /// process (ZeroMQ sockets and their wake-up descriptors, SQLite, logs) keeps 256, or a
    /// quarter of a small limit.
    public static func connectionBudget(descriptorLimit: Int) -> Int {
        max(4, descriptorLimit - min(256, descriptorLimit / 4))
    }
}
