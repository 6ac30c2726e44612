import AgentOSAuth
import Foundation
import ZeroMQ

/// Everything `agentos server` can be told.
public struct ServerConfiguration: Sendable {
    /// Data directory: secrets, first-start credentials, and the SQLite database by default.
    public var dataDirectory: String
    /// The database: SQLite in the data directory unless told otherwise.
    public var store: StoreLocation
    /// Where the job bus (ROUTER) binds, e.g. `tcp://127.0.0.1:5555`.
    public var busEndpoint: String
    /// Where the gateway API socket (ROUTER) binds.
    public var apiEndpoint: String
    /// The bus endpoint workers elsewhere should connect to (`GET /cluster`); defaults to `busEndpoint`.
    public var advertisedBusEndpoint: String?
    /// Dispatcher timing.
    public var dispatch: Dispatcher.Settings
    /// How long an access token works.
    public var accessTokenLifetime: TimeInterval
    /// bcrypt cost for new password hashes.
    public var bcryptCost: UInt8
    /// First-start admin email.
    public var adminEmail: String
    /// First-start admin password; random when nil.
    public var adminPassword: String?
    /// Upload size, session lifetime and login limits.
    public var apiLimits: APIHandler.Limits
    /// Run CURVE on loopback endpoints too (elsewhere it always runs, unless `insecurePlaintextBus`).
    public var curveOnLoopback: Bool
    /// Let the bus and the API socket listen beyond loopback in plain TCP: no encryption, and
    /// peers not checked at the handshake. For a network that is already private and encrypted.
    public var insecurePlaintextBus: Bool

    /// Configuration with the contract's defaults.
    public init(
        dataDirectory: String = "./.agentos", busEndpoint: String = "tcp://127.0.0.1:5555",
        apiEndpoint: String = "tcp://127.0.0.1:5556"
    ) {
        self.dataDirectory = dataDirectory
        self.store = .sqlite(path: nil)
        self.busEndpoint = busEndpoint
        self.apiEndpoint = apiEndpoint
        self.advertisedBusEndpoint = nil
        self.dispatch = Dispatcher.Settings()
        self.accessTokenLifetime = 900
        self.bcryptCost = 11
        self.adminEmail = "admin@localhost"
        self.adminPassword = nil
        self.apiLimits = APIHandler.Limits()
        self.curveOnLoopback = false
        self.insecurePlaintextBus = false
    }

    /// Whether a socket bound to `endpoint` runs CURVE: always beyond loopback (unless
    /// `insecurePlaintextBus`), on loopback only when asked.
    public func usesCurve(_ endpoint: String) -> Bool {
        Endpoint.isLocal(endpoint) ? curveOnLoopback : !insecurePlaintextBus
    }

    /// Paths inside the data directory.
    var signingKeyPath: String { dataDirectory + "/signing-key" }
    var secretKeyPath: String { dataDirectory + "/secret-key" }
    var blobsPath: String { dataDirectory + "/blobs" }
    var adminPasswordPath: String { dataDirectory + "/admin-password" }
    var workerTokenPath: String { dataDirectory + "/worker-token" }
    var gatewayTokenPath: String { dataDirectory + "/gateway-token" }
    var serverKeyPath: String { dataDirectory + "/server-key" }
    var serverPublicKeyPath: String { dataDirectory + "/server-key.pub" }
    var clusterFilePath: String { dataDirectory + "/cluster.json" }
}
