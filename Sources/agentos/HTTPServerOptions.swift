import AgentOSHTTPServer
import ArgumentParser

/// The connection options shared by `gateway` and `sandbox`, the two HTTP servers.
struct HTTPServerOptions: ParsableArguments {
    @Option(help: "Seconds a client has to send a whole request head; then 408 and close (AGENTOS_HEADER_TIMEOUT). Default 10")
    var headerTimeout: Int?
    @Option(help: "Seconds a connection may idle between requests, or within a request body (AGENTOS_IDLE_TIMEOUT). Default 60")
    var idleTimeout: Int?
    @Option(help: "Connections served at once; more are answered 503 (AGENTOS_MAX_CONNECTIONS). Default: three quarters of the open-file limit less 256")
    var maxConnections: Int?
    @Option(help: "Connections served at once from one client address (AGENTOS_MAX_CONNECTIONS_PER_ADDRESS). Default 512")
    var maxConnectionsPerAddress: Int?

    /// The limits these options give, checked.
    func limits() throws -> HTTPServerLimits {
        var limits = HTTPServerLimits()
        let header = try Settings.int(headerTimeout, env: "HEADER_TIMEOUT", default: 10)
        guard (1...3600).contains(header) else { throw ValidationError("--header-timeout must be 1-3600 seconds") }
        limits.headerTimeout = .seconds(header)
        let idle = try Settings.int(idleTimeout, env: "IDLE_TIMEOUT", default: 60)
        guard (1...86_400).contains(idle) else { throw ValidationError("--idle-timeout must be 1-86400 seconds") }
        limits.idleTimeout = .seconds(idle)
        limits.maxConnections = try Settings.int(maxConnections, env: "MAX_CONNECTIONS", default: limits.maxConnections)
        guard (1...limits.maxOpenConnections).contains(limits.maxConnections) else {
            throw ValidationError("""
                --max-connections must be 1-\(limits.maxOpenConnections): the open-file limit (ulimit -n, \
                \(HTTPServerLimits.descriptorLimit())) less what the process keeps for itself; raise ulimit -n for more
                """)
        }
        limits.maxConnectionsPerAddress = try Settings.int(
            maxConnectionsPerAddress, env: "MAX_CONNECTIONS_PER_ADDRESS", default: limits.maxConnectionsPerAddress)
        guard limits.maxConnectionsPerAddress >= 1 else { throw ValidationError("--max-connections-per-address must be at least 1") }
        return limits
    }
}
