import AgentOSAuth
import Foundation

/// What `agentos login` stores for the CLI and the desktop.
public struct Credentials: Codable, Sendable, Equatable {
    /// The gateway's base URL.
    public var gateway: String
    /// The account's email.
    public var email: String
    /// The account's id.
    public var userID: String
    /// The bearer token.
    public var accessToken: String
    /// When the token stops working.
    public var expiresAt: Date

    /// Stored credentials.
    public init(gateway: String, email: String, userID: String, accessToken: String, expiresAt: Date) {
        self.gateway = gateway
        self.email = email
        self.userID = userID
        self.accessToken = accessToken
        self.expiresAt = expiresAt
    }

    enum CodingKeys: String, CodingKey {
        case gateway, email
        case userID = "user_id"
        case accessToken = "access_token"
        case expiresAt = "expires_at"
    }
}

/// Where the CLI keeps its files: `$XDG_CONFIG_HOME/agentos` (default `~/.config/agentos`).
public struct ConfigDirectory: Sendable {
    /// The directory path.
    public let path: String

    /// The directory from the environment.
    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        if let xdg = environment["XDG_CONFIG_HOME"], !xdg.isEmpty {
            path = xdg + "/agentos"
        } else {
            path = (environment["HOME"] ?? NSHomeDirectory()) + "/.config/agentos"
        }
    }

    /// The credentials file.
    public var credentialsPath: String { path + "/credentials.json" }

    /// Saves credentials with mode 0600 in a 0700 directory.
    public func save(_ credentials: Credentials) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        try SecretFile.write(try encoder.encode(credentials), to: credentialsPath)
    }

    /// The stored credentials; a clear error when there are none.
    public func loadCredentials() throws -> Credentials {
        guard let data = FileManager.default.contents(atPath: credentialsPath) else {
            throw ClientError.notLoggedIn
        }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        guard let credentials = try? decoder.decode(Credentials.self, from: data) else {
            throw ClientError.notLoggedIn
        }
        return credentials
    }

    /// A stable id for this machine's private worker serving `userID`, made on first use.
    /// Per user: the server binds a worker id to the account that first used it.
    public func desktopWorkerID(userID: String) throws -> String {
        let safeUser = userID.filter { $0.isLetter || $0.isNumber || $0 == "-" }
        let idPath = path + "/desktop-id-\(safeUser)"
        if let data = FileManager.default.contents(atPath: idPath) {
            let id = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            if !id.isEmpty { return id }
        }
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let id = "desktop-" + UUID().uuidString.lowercased()
        try SecretFile.write(id + "\n", to: idPath)
        return id
    }
}
