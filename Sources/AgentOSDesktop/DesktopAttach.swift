import AgentOSAPI
import AgentOSClient
import AgentOSSandbox
import AgentOSWire
import AgentOSWorker
import Foundation
import Synchronization
import ZeroMQ
import AgentOSAuth
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
    ///
    /// When the bus runs CURVE (`/cluster` gives a key), the server's key is checked against
    /// `serverKey` or the one pinned on first use, and the desktop connects with a personal
    /// access token of its own (made once, kept 0600), whose key the server knows. A plain
    /// bus is taken only where it cannot be a downgrade (`plaintextAllowed`).
    ///
    /// `folders` are shared with the user's private jobs: each job sees those it names in
    /// `dirs`, at `/mnt/<name>`, and fails with `folder_not_shared` when it names another.
    public static func makeServices(
        configDirectory: ConfigDirectory, name: String?, slots: Int?, serverKey: String? = nil,
        insecurePlaintextBus: Bool = false, folders: [SharedFolder] = [], engine: any JobEngine, logger: Logger
    ) async throws -> [any Service] {
        let credentials = try await configDirectory.freshCredentials(validity: 120)
        let cluster = try await GatewayClient(credentials: credentials).send("GET", "/api/v1/cluster", as: Schemas.Cluster.self)
        guard let advertised = cluster.bus.first else {
            throw ClientError.io("the gateway did not say where the job bus is")
        }
        let endpoint = reachable(advertised, gateway: credentials.gateway)
        var configuration = WorkerConfiguration(
            serverEndpoint: endpoint, kind: .private, credential: WorkerCredential(accessToken: credentials.accessToken))
        // Every server sharing the store, to move to when this one goes silent.
        configuration.serverEndpoints += cluster.bus.dropFirst().map { reachable($0, gateway: credentials.gateway) }
        configuration.workerID = try configDirectory.desktopWorkerID(userID: credentials.userID)
        var services: [any Service] = []
        if let advertised = cluster.curvePublicKey {
            let key = try verifiedServerKey(advertised, given: serverKey, gateway: credentials.gateway, configDirectory: configDirectory)
            let busToken = try await busToken(credentials, configDirectory: configDirectory, logger: logger)
            configuration.credential = WorkerCredential(accessToken: busToken)
            configuration.curve = CurveClient(serverPublicKey: key, keyPair: try CurveKeyPair(secretBytes: SecretToken.busKeySeed(busToken)))
        } else if try plaintextAllowed(
            endpoint, given: serverKey, gateway: credentials.gateway, configDirectory: configDirectory, insecure: insecurePlaintextBus),
            credentials.refreshToken != nil {
            let keeper = TokenKeeper(token: credentials.accessToken, configDirectory: configDirectory, logger: logger)
            configuration.credentialSource = { WorkerCredential(accessToken: keeper.token) }
            services.append(keeper)
        }
        configuration.name = name ?? "\(hostName)-desktop"
        if let slots { configuration.slots = slots }
        configuration.folders = folders
        logger.info("attaching as a private worker", metadata: [
            "user": "\(credentials.email)", "bus": "\(endpoint)", "name": "\(configuration.name)",
        ])
        for folder in folders {
            logger.info("sharing a folder with private jobs", metadata: [
                "dir": "\(folder.name)", "path": "\(folder.path)", "at": "\(folder.sandboxPath)",
                "access": "\(folder.writable ? "read-write" : "read-only")",
            ])
        }
        // Runs made on this desktop with `desktop run` reach the server while it is attached.
        let data = DesktopDataDirectory()
        let store = try DesktopStore.open(data)
        try store.recoverInterrupted()
        services.append(OutboxService(
            store: store, account: Account(userID: credentials.userID, gateway: credentials.gateway), configDirectory: configDirectory,
            dataDirectory: data, logger: logger))
        // Last in the group, so it shuts down (drains) first, while the login is still kept.
        services.append(try WorkerAgent(configuration: configuration, engine: engine, logger: logger))
        return services
    }
}

extension DesktopAttach {
    /// This machine's short host name (a run's device, the default worker name's start).
    public static var hostName: String {
        ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "desktop"
    }

    /// Checks that no folder to share shows a job the desktop's own login and keys, its data or
    /// `engine`'s state (work dirs, virtualenvs), nor lies inside another folder shared
    /// writable. Throws what stands in the way.
    public static func checkShareable(_ folders: [SharedFolder], configDirectory: ConfigDirectory, stateDirectory: String) throws {
        try SharedFolder.checkSafe(folders, protected: [
            ("the desktop's login and keys", configDirectory.path), ("the desktop's data", DesktopDataDirectory().path),
            ("the sandbox cache", stateDirectory),
        ])
    }

    /// The folders `--dir PATH[:rw|:ro]` arguments share: existing directories, by their real
    /// paths, named after their last components, with distinct names, at most
    /// `FolderName.maxShared`. Throws a message fit for the user.
    public static func sharedFolders(
        _ arguments: [String], relativeTo base: String = FileManager.default.currentDirectoryPath
    ) throws -> [SharedFolder] {
        guard arguments.count <= FolderName.maxShared else {
            throw SandboxError("a desktop shares at most \(FolderName.maxShared) folders (--dir given \(arguments.count) times)")
        }
        let folders = try arguments.map { try SharedFolder(argument: $0, relativeTo: base) }
        try SharedFolder.checkUnique(folders)
        return folders
    }

    /// The server's key as `/cluster` gives it, once it matches the key given or pinned; a
    /// first key is pinned only when it came over HTTPS or from a gateway on loopback.
    static func verifiedServerKey(_ advertised: String, given: String?, gateway: String, configDirectory: ConfigDirectory) throws -> String {
        if let given {
            guard given == advertised else {
                throw ClientError.io("""
                    the server's key from \(gateway) (\(advertised)) is not the one given with --server-key (\(given)): \
                    the gateway may front another server, or someone may stand between you and it
                    """)
            }
        } else if let pinned = try configDirectory.pinnedServerKey(gateway: gateway) {
            guard pinned == advertised else {
                throw ClientError.io("""
                    the server behind \(gateway) changed its key since this desktop first attached (pinned \(pinned), now \(advertised)). \
                    If it was rotated on purpose, give the new key with --server-key; otherwise someone may be impersonating the server
                    """)
            }
            return pinned
        } else {
            guard let url = URL(string: gateway), url.scheme == "https" || isLoopback(url.host ?? "") else {
                throw ClientError.io("""
                    \(gateway) is plain HTTP and not on loopback, so the server key it gives cannot be trusted on first use: \
                    give it with --server-key (the server's <data>/server-key.pub), or use an https:// gateway
                    """)
            }
        }
        try configDirectory.pin(serverKey: advertised, gateway: gateway)
        return advertised
    }

    /// Whether the desktop may talk plain TCP to `endpoint`, which the gateway offered without a
    /// key: only on loopback (or when told `--insecure-plaintext-bus`), and never when it knows
    /// the server's key, given or pinned, since a gateway or a man in the middle offering no key
    /// would otherwise get the user's token in clear. Throws why not.
    static func plaintextAllowed(_ endpoint: String, given: String?, gateway: String, configDirectory: ConfigDirectory, insecure: Bool) throws -> Bool {
        let pinned = try configDirectory.pinnedServerKey(gateway: gateway)
        if given != nil || pinned != nil {
            throw ClientError.io("""
                \(gateway) offers the bus at \(endpoint) without encryption, but this desktop knows the server's key \
                (\(given != nil ? "given with --server-key" : "pinned in \(configDirectory.serverKeysPath)")): refusing to connect in clear. \
                If the server really stopped running CURVE, remove the pin or --server-key
                """)
        }
        guard Endpoint.isLocal(endpoint) || insecure else {
            throw ClientError.io("""
                \(gateway) offers the bus at \(endpoint), beyond loopback, without encryption: refusing to send your token in clear \
                (--insecure-plaintext-bus allows it, for a network that is already private and encrypted)
                """)
        }
        return true
    }

    /// The personal access token the desktop's bus key derives from: the login's own when it
    /// is one, else one made for this desktop and kept, made again if it stopped working.
    static func busToken(_ credentials: Credentials, configDirectory: ConfigDirectory, logger: Logger) async throws -> String {
        if credentials.accessToken.hasPrefix(personalTokenPrefix) { return credentials.accessToken }
        guard let gateway = URL(string: credentials.gateway) else { throw ClientError.io("bad gateway URL \(credentials.gateway)") }
        if let kept = configDirectory.desktopBusToken(userID: credentials.userID, gateway: credentials.gateway) {
            do {
                _ = try await GatewayClient(baseURL: gateway, token: kept).send("GET", "/api/v1/me", as: Schemas.User.self)
                return kept
            } catch ClientError.http(let status, _, _) where status == 401 {
                logger.notice("this desktop's bus token no longer works; making a new one")
                configDirectory.removeDesktopBusToken(userID: credentials.userID, gateway: credentials.gateway)
            }
        }
        let host = hostName
        let made = try await GatewayClient(credentials: credentials).send(
            "POST", "/api/v1/tokens", body: Schemas.CreateTokenRequest(name: "desktop \(host) (bus)"), as: Schemas.PersonalToken.self)
        guard let token = made.token else { throw ClientError.io("the server made a token but did not show it") }
        try configDirectory.saveDesktopBusToken(token, userID: credentials.userID, gateway: credentials.gateway)
        return token
    }

    /// The bus endpoint to connect to: a server that binds every interface and names no
    /// `--advertise-bus` advertises a wildcard, which is reached at the gateway's host.
    static func reachable(_ endpoint: String, gateway: String) -> String {
        guard let host = URL(string: gateway)?.host, !host.isEmpty else { return endpoint }
        return Endpoint.reaching(endpoint, at: host)
    }

    private static let personalTokenPrefix = "aos_pat_"

    private static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host == "[::1]" || host.hasPrefix("127.")
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
