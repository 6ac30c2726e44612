import AgentOSAuth
import Foundation

/// Everything `agentos server` can be told.
public struct ServerConfiguration: Sendable {
    /// Data directory: database, secrets, first-start credentials.
    public var dataDirectory: String
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

    /// Configuration with the contract's defaults.
    public init(
        dataDirectory: String = "./.agentos", busEndpoint: String = "tcp://127.0.0.1:5555",
        apiEndpoint: String = "tcp://127.0.0.1:5556"
    ) {
        self.dataDirectory = dataDirectory
        self.busEndpoint = busEndpoint
        self.apiEndpoint = apiEndpoint
        self.advertisedBusEndpoint = nil
        self.dispatch = Dispatcher.Settings()
        self.accessTokenLifetime = 900
        self.bcryptCost = 11
        self.adminEmail = "admin@localhost"
        self.adminPassword = nil
        self.apiLimits = APIHandler.Limits()
    }

    /// Paths inside the data directory.
    var databasePath: String { dataDirectory + "/agentos.sqlite" }
    var signingKeyPath: String { dataDirectory + "/signing-key" }
    var secretKeyPath: String { dataDirectory + "/secret-key" }
    var blobsPath: String { dataDirectory + "/blobs" }
    var adminPasswordPath: String { dataDirectory + "/admin-password" }
    var workerTokenPath: String { dataDirectory + "/worker-token" }
}
