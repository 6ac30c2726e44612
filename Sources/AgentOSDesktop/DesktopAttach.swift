import AgentOSAPI
import AgentOSClient
import AgentOSSandbox
import AgentOSWire
import AgentOSWorker
import Foundation
import Synchronization
import Logging
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

/// Holds `<config>/desktop.lock` so two attaches sharing one desktop identity cannot run at once.
public final class DesktopLock: Sendable {
    private let descriptor: Int32

    /// Takes the lock or explains who holds it.
    public init(configDirectory: ConfigDirectory) throws {
        try FileManager.default.createDirectory(atPath: configDirectory.path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let path = configDirectory.path + "/desktop.lock"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw ClientError.io("cannot open \(path)") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw ClientError.io("another `agentos desktop attach` is already running with \(configDirectory.path); stop it first")
        }
        descriptor = fd
    }

    deinit { close(descriptor) }
}

/// `agentos desktop attach`: turns this machine into the logged-in user's private worker.
public enum DesktopAttach {
    /// Finds the bus through the gateway (`GET /cluster`) and prepares a private worker
    /// authenticated as the stored user, with the service that keeps its login fresh. Run
    /// the services in one group, in order, and hold a `DesktopLock` while they run: the
    /// worker id is per config directory.
    public static func makeServices(
        configDirectory: ConfigDirectory, name: String?, slots: Int?,
        engine: any JobEngine, logger: Logger
    ) async throws -> [any Service] {
        let credentials = try await configDirectory.freshCredentials(validity: 120)
        let cluster = try await GatewayClient(credentials: credentials).send("GET", "/api/v1/cluster", as: Schemas.Cluster.self)
        guard let endpoint = cluster.bus.first else {
            throw ClientError.io("the gateway did not say where the job bus is")
        }
        var configuration = WorkerConfiguration(
            serverEndpoint: endpoint, kind: .private, credential: WorkerCredential(accessToken: credentials.accessToken))
        configuration.workerID = try configDirectory.desktopWorkerID(userID: credentials.userID)
        var services: [any Service] = []
        if credentials.refreshToken != nil {
            let keeper = TokenKeeper(token: credentials.accessToken, configDirectory: configDirectory, logger: logger)
            configuration.credentialSource = { WorkerCredential(accessToken: keeper.token) }
            services.append(keeper)
        }
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "desktop"
        configuration.name = name ?? "\(host)-desktop"
        if let slots { configuration.slots = slots }
        logger.info("attaching as a private worker", metadata: [
            "user": "\(credentials.email)", "bus": "\(endpoint)", "name": "\(configuration.name)",
        ])
        // Last in the group, so it shuts down (drains) first, while the login is still kept.
        services.append(try WorkerAgent(configuration: configuration, engine: engine, logger: logger))
        return services
    }
}

/// Keeps a desktop's access token fresh while it is attached: the server checks it at every
/// `HELLO` (reconnects included), and access tokens live only minutes. A service: it runs
/// until graceful shutdown or cancellation.
final class TokenKeeper: Service {
    private let current: Mutex<String>
    private let configDirectory: ConfigDirectory
    private let logger: Logger

    init(token: String, configDirectory: ConfigDirectory, logger: Logger) {
        current = Mutex(token)
        self.configDirectory = configDirectory
        self.logger = logger
    }

    var token: String { current.withLock { $0 } }

    /// Refreshes whenever less than five minutes are left, checking every 30 s.
    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    let credentials = try await self.configDirectory.freshCredentials(validity: 300)
                    self.current.withLock { $0 = credentials.accessToken }
                } catch is CancellationError {
                    return
                } catch {
                    self.logger.warning("could not refresh the login", metadata: ["error": "\(error)"])
                }
                try await Task.sleep(for: .seconds(30))
            }
        }
    }
}
