import AgentOSClient
import AgentOSSandbox
import AgentOSWire
import AgentOSWorker
import Foundation
import Synchronization
import Logging

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
    /// authenticated as the stored user. Hold a `DesktopLock` while it runs: the worker id is
    /// per config directory.
    public static func makeWorker(
        configDirectory: ConfigDirectory, name: String?, slots: Int?,
        engine: any JobEngine, logger: Logger
    ) async throws -> WorkerAgent {
        let credentials = try await configDirectory.freshCredentials(validity: 120)
        let cluster = try await GatewayClient(credentials: credentials).send("GET", "/api/v1/cluster")
        guard let endpoint = cluster["bus"]?.arrayValue?.first?.stringValue else {
            throw ClientError.io("the gateway did not say where the job bus is")
        }
        var configuration = WorkerConfiguration(
            serverEndpoint: endpoint, kind: .private, credential: WorkerCredential(accessToken: credentials.accessToken))
        configuration.workerID = try configDirectory.desktopWorkerID(userID: credentials.userID)
        if credentials.refreshToken != nil {
            let keeper = TokenKeeper(token: credentials.accessToken)
            keeper.start(configDirectory: configDirectory, logger: logger)
            configuration.credentialSource = { WorkerCredential(accessToken: keeper.token) }
        }
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "desktop"
        configuration.name = name ?? "\(host)-desktop"
        if let slots { configuration.slots = slots }
        if let gateway = URL(string: credentials.gateway) { configuration.fileFetcher = JobFileFetcher(gateway: gateway) }
        logger.info("attaching as a private worker", metadata: [
            "user": "\(credentials.email)", "bus": "\(endpoint)", "name": "\(configuration.name)",
        ])
        return try WorkerAgent(configuration: configuration, engine: engine, logger: logger)
    }
}

/// Keeps a desktop's access token fresh while it is attached: the server checks it at every
/// `HELLO` (reconnects included), and access tokens live only minutes.
final class TokenKeeper: Sendable {
    private let current: Mutex<String>

    init(token: String) {
        current = Mutex(token)
    }

    var token: String { current.withLock { $0 } }

    /// Refreshes in the background whenever less than five minutes are left.
    func start(configDirectory: ConfigDirectory, logger: Logger) {
        Task.detached { [self] in
            while !Task.isCancelled {
                do {
                    let credentials = try await configDirectory.freshCredentials(validity: 300)
                    current.withLock { $0 = credentials.accessToken }
                } catch {
                    logger.warning("could not refresh the login", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: .seconds(30))
            }
        }
    }
}
