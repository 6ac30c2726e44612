import AgentOSGateway
import ArgumentParser
import Hummingbird
import Logging
import ServiceLifecycle
import ZeroMQ

struct GatewayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "gateway", abstract: "Run the HTTP gateway in front of a server.")

    @Option(help: "HOST:PORT to listen on (AGENTOS_LISTEN). Default 127.0.0.1:8080") var listen: String?
    @Option(help: "The server's API endpoint, or several servers' sharing one store, comma-separated: reads and idempotent submits go to another when one does not answer (AGENTOS_SERVER). Default tcp://127.0.0.1:5556") var server: String?
    @Option(help: "Largest request body in bytes, 1024-41943040 (AGENTOS_MAX_BODY). Default 8388608") var maxBody: Int?
    @Option(help: "Largest file upload in MiB, 1-40 (AGENTOS_MAX_UPLOAD_MB). Default 32") var maxUploadMb: Int?
    @Option(help: "File holding the gateway token, <data>/gateway-token on the server (AGENTOS_TOKEN_FILE); needed with CURVE") var tokenFile: String?
    @OptionGroup(title: "Bus security") var security: BusSecurityOptions
    @OptionGroup(title: "Connections") var connections: HTTPServerOptions

    func run() async throws {
        Settings.bootstrapLogging()
        let (host, port) = try Settings.hostAndPort(Settings.value(listen, env: "LISTEN", default: "127.0.0.1:8080"))
        let endpoints = Settings.value(server, env: "SERVER", default: "tcp://127.0.0.1:5556").split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard let first = endpoints.first else { throw ValidationError("--server needs an API endpoint") }
        // CURVE when any server is beyond loopback: the servers sharing a store share its key.
        var configuration = GatewayConfiguration(host: host, port: port, serverEndpoint: endpoints.first { !Endpoint.isLocal($0) } ?? first)
        configuration.maxBodyBytes = try Settings.int(maxBody, env: "MAX_BODY", default: configuration.maxBodyBytes)
        guard (1024...(40 << 20)).contains(configuration.maxBodyBytes) else {
            throw ValidationError("--max-body must be 1024-41943040 bytes (40 MiB, the largest request the server takes)")
        }
        let uploadMB = try Settings.int(maxUploadMb, env: "MAX_UPLOAD_MB", default: 32)
        guard (1...40).contains(uploadMB) else { throw ValidationError("--max-upload-mb must be 1-40") }
        configuration.maxUploadBytes = uploadMB << 20
        configuration.http = try connections.limits()
        let curve = try security.curve(endpoint: configuration.serverEndpoint) {
            guard let file = Settings.value(tokenFile, env: "TOKEN_FILE") else {
                throw ValidationError("with CURVE the gateway authenticates to the server: give --token-file (the server's <data>/gateway-token)")
            }
            return try WorkerCommand.readSecret(file: file, what: "gateway token")
        }
        let logger = Logger(label: "agentos.gateway")
        let client = try ServerPool(endpoints: endpoints, curve: curve, logger: logger)
        let app = buildGateway(client: client, configuration: configuration, logger: logger)
        // Stopped in reverse order: the HTTP side finishes its requests before the connection closes.
        let group = ServiceGroup(
            configuration: .init(services: [.init(service: client), .init(service: app)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch {
            throw listenFailureDescription(error, configuration: configuration).map { CommandFailed(message: $0) } ?? error
        }
    }
}
