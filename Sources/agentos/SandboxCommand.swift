import AgentOSAuth
import AgentOSClient
import AgentOSSandboxService
import ArgumentParser
import Foundation
import Logging
import NIOCore
import ServiceLifecycle

struct SandboxCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sandbox", abstract: "Serve the sandboxed engine over HTTP: POST /execute runs Python code in a fresh sandbox.")

    @OptionGroup var service: SandboxServiceOptions

    func run() async throws {
        Settings.bootstrapLogging()
        let logger = Logger(label: "agentos.sandbox")
        let (host, port) = try Settings.hostAndPort(Settings.value(service.listen, env: "LISTEN", default: "127.0.0.1:8090"))
        if !["127.0.0.1", "::1", "localhost"].contains(host) {
            logger.warning("listening on \(host), not loopback: anyone who can reach it and holds the token can run code here")
        }
        let token = try service.resolveToken(defaultFile: ConfigDirectory().path + "/sandbox-token", logger: logger)
        try await service.serve(host: host, port: port, token: token, logger: logger)
    }
}

/// The options of a sandbox service, shared by `agentos sandbox` and `agentos desktop sandbox`.
struct SandboxServiceOptions: ParsableArguments {
    @Option(help: "HOST:PORT to listen on (AGENTOS_LISTEN). Default 127.0.0.1:8090")
    var listen: String?
    @Option(help: "The bearer token requests must carry (AGENTOS_SANDBOX_TOKEN). Default: read from, or generated into, --token-file")
    var token: String?
    @Option(help: """
        File holding the token, created 0600 with a new token when missing (AGENTOS_SANDBOX_TOKEN_FILE). \
        Default ~/.config/agentos/sandbox-token (agentos sandbox), ~/.local/share/agentos/sandbox-token (agentos desktop sandbox)
        """)
    var tokenFile: String?
    @Option(help: "Jobs run at once; more are answered 503 (AGENTOS_MAX_CONCURRENT). Default: number of CPUs")
    var maxConcurrent: Int?
    @Flag(help: "Let requests ask for the network with limits.network (AGENTOS_ALLOW_NETWORK=1)")
    var allowNetwork = false
    @OptionGroup(title: "Sandbox") var sandbox: SandboxOptions
    @OptionGroup(title: "Connections") var connections: HTTPServerOptions

    /// Serves the engine on `host:port` with `token` until SIGTERM or SIGINT; `onListening`
    /// hears the port once the service listens.
    func serve(host: String, port: Int, token: String, logger: Logger, onListening: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        var configuration = SandboxServiceConfiguration(token: token)
        configuration.host = host
        configuration.port = port
        configuration.maxConcurrent = try Settings.int(maxConcurrent, env: "MAX_CONCURRENT", default: configuration.maxConcurrent)
        guard (1...1024).contains(configuration.maxConcurrent) else { throw ValidationError("--max-concurrent must be 1-1024") }
        configuration.allowNetwork = allowNetwork || Settings.environment("ALLOW_NETWORK") == "1"
        configuration.http = try connections.limits()
        let engine = try await sandbox.makeEngine(logger: logger)
        defer { engine.close() }
        let app = SandboxService.buildApplication(engine: engine, configuration: configuration, logger: logger, onListening: onListening)
        let group = ServiceGroup(configuration: .init(services: [.init(service: app)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch let error as IOError {
            throw CommandFailed(message: "cannot listen on \(host):\(port): \(String(cString: strerror(error.errnoCode)))")
        }
    }

    /// The token file: the one given, else `defaultFile`.
    func tokenFilePath(defaultFile: String) -> String {
        Settings.value(tokenFile, env: "SANDBOX_TOKEN_FILE", default: defaultFile)
    }

    /// The token given, else the one in the token file, else a new one written there (0600).
    /// There is no default token.
    func resolveToken(defaultFile: String, logger: Logger) throws -> String {
        if let token = Settings.value(token, env: "SANDBOX_TOKEN") {
            guard token.count >= 16 else { throw ValidationError("--token must be at least 16 characters") }
            return token
        }
        let path = tokenFilePath(defaultFile: defaultFile)
        if let existing = try SecretFile.read(path), !existing.isEmpty { return existing }
        let directory = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let token = SecretToken.generate(prefix: "aos_sbx_")
        try SecretFile.write(token + "\n", to: path)
        logger.notice("generated a token for this service", metadata: ["file": "\(path)"])
        return token
    }
}
