import AgentOSServer
import ArgumentParser
import Logging
import ServiceLifecycle

struct ServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "server", abstract: "Run the control plane: job bus, API socket, database.")

    @Option(help: "Data directory (AGENTOS_DATA). Default ./.agentos") var data: String?
    @Option(help: "Database: sqlite:PATH or postgres://USER@HOST:PORT/DATABASE; the password may come from PGPASSWORD (AGENTOS_STORE). Default: agentos.sqlite in the data directory") var store: String?
    @Option(help: "Job bus endpoint workers connect to (AGENTOS_BUS). Default tcp://127.0.0.1:5555") var bus: String?
    @Option(help: "API endpoint gateways connect to (AGENTOS_API). Default tcp://127.0.0.1:5556") var api: String?
    @Option(help: "Bus endpoint told to desktops by GET /cluster (AGENTOS_ADVERTISE_BUS). Default: --bus") var advertiseBus: String?
    @Option(help: "Heartbeat interval in milliseconds (AGENTOS_HEARTBEAT_MS). Default 1000") var heartbeatMs: Int?
    @Option(help: "Heartbeats a second the server handles each way at most; larger fleets get longer intervals, 0 never (AGENTOS_MAX_HEARTBEATS_PER_SECOND). Default 4000") var maxHeartbeatsPerSecond: Int?
    @Option(help: "Seconds a job may wait for an eligible worker (AGENTOS_QUEUE_TIMEOUT). Default 3600") var queueTimeout: Int?
    @Option(help: "With a PostgreSQL store: seconds a dead server's running jobs stay its own before another server requeues them (AGENTOS_LEASE_SECONDS). Default 15") var leaseSeconds: Int?
    @Option(help: "Largest file upload in MiB, 1-40 (AGENTOS_MAX_FILE_MB). Default 32") var maxFileMb: Int?
    @Option(help: "Seconds an access token works (AGENTOS_ACCESS_TOKEN_TTL). Default 900") var accessTokenTtl: Int?
    @Option(help: "Jobs one user may have queued; more get 429 (AGENTOS_MAX_QUEUED_PER_USER). Default 10000") var maxQueuedPerUser: Int?
    @Option(help: "Jobs one project may have queued; more get 429 (AGENTOS_MAX_QUEUED_PER_PROJECT). Default 50000") var maxQueuedPerProject: Int?
    @Option(help: "Submits a second one user may make on average, after a burst of 10 seconds' worth; faster gets 429 (AGENTOS_SUBMIT_RATE_PER_USER). Default 1000") var submitRatePerUser: Int?

    @Flag(help: "Run CURVE on loopback endpoints too (AGENTOS_CURVE_ON_LOOPBACK=1); beyond loopback it always runs") var curveOnLoopback = false
    @Flag(help: "Let the bus and the API socket listen beyond loopback in plain TCP, unencrypted and with peers unchecked at the handshake (AGENTOS_INSECURE_PLAINTEXT_BUS=1)")
    var insecurePlaintextBus = false

    func run() async throws {
        Settings.bootstrapLogging()
        var configuration = ServerConfiguration(
            dataDirectory: Settings.value(data, env: "DATA", default: "./.agentos"),
            busEndpoint: Settings.value(bus, env: "BUS", default: "tcp://127.0.0.1:5555"),
            apiEndpoint: Settings.value(api, env: "API", default: "tcp://127.0.0.1:5556"))
        if let location = Settings.value(store, env: "STORE") {
            do {
                configuration.store = try StoreLocation(parsing: location)
            } catch {
                throw ValidationError("\(error)")
            }
        }
        configuration.advertisedBusEndpoint = Settings.value(advertiseBus, env: "ADVERTISE_BUS")
        let heartbeat = try Settings.int(heartbeatMs, env: "HEARTBEAT_MS", default: 1000)
        guard (10...60_000).contains(heartbeat) else { throw ValidationError("--heartbeat-ms must be 10-60000") }
        configuration.dispatch.heartbeatInterval = Double(heartbeat) / 1000
        let heartbeatRate = try Settings.int(maxHeartbeatsPerSecond, env: "MAX_HEARTBEATS_PER_SECOND", default: 4000)
        guard (0...1_000_000).contains(heartbeatRate) else { throw ValidationError("--max-heartbeats-per-second must be 0-1000000") }
        configuration.dispatch.maxHeartbeatsPerSecond = Double(heartbeatRate)
        let queueSeconds = try Settings.int(queueTimeout, env: "QUEUE_TIMEOUT", default: 3600)
        guard queueSeconds >= 1 else { throw ValidationError("--queue-timeout must be at least 1 second") }
        configuration.dispatch.queueTimeout = Double(queueSeconds)
        let lease = try Settings.int(leaseSeconds, env: "LEASE_SECONDS", default: 15)
        guard (3...3600).contains(lease) else { throw ValidationError("--lease-seconds must be 3-3600") }
        configuration.dispatch.leaseSeconds = Double(lease)
        // A file travels whole in one API request (at most 41 MiB with its header).
        let fileMB = try Settings.int(maxFileMb, env: "MAX_FILE_MB", default: 32)
        guard (1...40).contains(fileMB) else { throw ValidationError("--max-file-mb must be 1-40") }
        configuration.apiLimits.maxFileBytes = fileMB << 20
        let ttl = try Settings.int(accessTokenTtl, env: "ACCESS_TOKEN_TTL", default: 900)
        guard (60...86_400).contains(ttl) else { throw ValidationError("--access-token-ttl must be 60-86400 seconds") }
        configuration.accessTokenLifetime = Double(ttl)
        let perUser = try Settings.int(maxQueuedPerUser, env: "MAX_QUEUED_PER_USER", default: 10_000)
        let perProject = try Settings.int(maxQueuedPerProject, env: "MAX_QUEUED_PER_PROJECT", default: 50_000)
        let rate = try Settings.int(submitRatePerUser, env: "SUBMIT_RATE_PER_USER", default: 1_000)
        guard perUser >= 1, perProject >= 1, rate >= 1 else {
            throw ValidationError("--max-queued-per-user, --max-queued-per-project and --submit-rate-per-user must be at least 1")
        }
        configuration.apiLimits.submits.maxQueuedPerUser = perUser
        configuration.apiLimits.submits.maxQueuedPerProject = perProject
        configuration.apiLimits.submits.submitsPerSecondPerUser = Double(rate)
        configuration.apiLimits.submits.submitBurstPerUser = Double(10 * rate)
        configuration.apiLimits.submits.submitsPerSecondPerProject = Double(2 * rate)
        configuration.curveOnLoopback = curveOnLoopback || Settings.environment("CURVE_ON_LOOPBACK") == "1"
        configuration.insecurePlaintextBus = insecurePlaintextBus || Settings.environment("INSECURE_PLAINTEXT_BUS") == "1"
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
