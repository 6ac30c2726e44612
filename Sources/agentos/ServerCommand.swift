import AgentOSServer
import ArgumentParser
import Logging
import ServiceLifecycle

struct ServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "server", abstract: "Run the control plane: job bus, API socket, database.")

    @Option(help: "Data directory (AGENTOS_DATA). Default ./.agentos") var data: String?
    @Option(help: "Job bus endpoint workers connect to (AGENTOS_BUS). Default tcp://127.0.0.1:5555") var bus: String?
    @Option(help: "API endpoint gateways connect to (AGENTOS_API). Default tcp://127.0.0.1:5556") var api: String?
    @Option(help: "Bus endpoint told to desktops by GET /cluster (AGENTOS_ADVERTISE_BUS). Default: --bus") var advertiseBus: String?
    @Option(help: "Heartbeat interval in milliseconds (AGENTOS_HEARTBEAT_MS). Default 1000") var heartbeatMs: Int?
    @Option(help: "Seconds a job may wait for an eligible worker (AGENTOS_QUEUE_TIMEOUT). Default 3600") var queueTimeout: Int?

    func run() async throws {
        Settings.bootstrapLogging()
        var configuration = ServerConfiguration(
            dataDirectory: Settings.value(data, env: "DATA", default: "./.agentos"),
            busEndpoint: Settings.value(bus, env: "BUS", default: "tcp://127.0.0.1:5555"),
            apiEndpoint: Settings.value(api, env: "API", default: "tcp://127.0.0.1:5556"))
        configuration.advertisedBusEndpoint = Settings.value(advertiseBus, env: "ADVERTISE_BUS")
        let heartbeat = try Settings.int(heartbeatMs, env: "HEARTBEAT_MS", default: 1000)
        guard (10...60_000).contains(heartbeat) else { throw ValidationError("--heartbeat-ms must be 10-60000") }
        configuration.dispatch.heartbeatInterval = Double(heartbeat) / 1000
        let queueSeconds = try Settings.int(queueTimeout, env: "QUEUE_TIMEOUT", default: 3600)
        guard queueSeconds >= 1 else { throw ValidationError("--queue-timeout must be at least 1 second") }
        configuration.dispatch.queueTimeout = Double(queueSeconds)
        configuration.adminEmail = Settings.environment("ADMIN_EMAIL") ?? "admin@localhost"
        configuration.adminPassword = Settings.environment("ADMIN_PASSWORD")
        if let cost = Settings.environment("BCRYPT_COST").flatMap(UInt8.init), (4...31).contains(cost) {
            configuration.bcryptCost = cost
        }
        let logger = Logger(label: "agentos.server")
        let server = Server(configuration: configuration, logger: logger)
        let group = ServiceGroup(services: [server], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await group.run()
    }
}
