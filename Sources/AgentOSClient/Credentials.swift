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
    /// Exchanged for a new access token (and a new refresh token) when that one runs out.
    public var refreshToken: String?

    /// Stored credentials.
    public init(gateway: String, email: String, userID: String, accessToken: String, expiresAt: Date, refreshToken: String? = nil) {
        self.gateway = gateway
        self.email = email
        self.userID = userID
        self.accessToken = accessToken
        self.expiresAt = expiresAt
        self.refreshToken = refreshToken
    }

    enum CodingKeys: String, CodingKey {
        case gateway, email
        case userID = "user_id"
        case accessToken = "access_token"
        case expiresAt = "expires_at"
        case refreshToken = "refresh_token"
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

    /// Forgets the stored credentials (`agentos logout`).
    public func forgetCredentials() throws {
        guard FileManager.default.fileExists(atPath: credentialsPath) else { return }
        try FileManager.default.removeItem(atPath: credentialsPath)
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

    /// The stored credentials with an access token good for at least `validity` more
    /// seconds, refreshed (and saved) when needed. Refreshing holds a lock on the config
    /// directory: two processes exchanging the same refresh token would look like a stolen
    /// token to the server, which then revokes the session.
    public func freshCredentials(validity: TimeInterval = 60) async throws -> Credentials {
        let current = try loadCredentials()
        guard current.expiresAt.timeIntervalSinceNow < validity else { return current }
        guard current.refreshToken != nil else {
            throw ClientError.io("your login expired at \(current.expiresAt); run `agentos login` again")
        }
        let lock = try FileLock(path: path + "/.refresh.lock")
        try await lock.acquire()
        defer { lock.release() }
        // Another process may have refreshed while this one waited for the lock.
        let latest = try loadCredentials()
        guard latest.expiresAt.timeIntervalSinceNow < validity else { return latest }
        guard let refreshToken = latest.refreshToken, let url = URL(string: latest.gateway) else { throw ClientError.notLoggedIn }
        let refreshed: Credentials
        do {
            refreshed = try await GatewayClient(baseURL: url).refresh(refreshToken)
        } catch ClientError.http(let status, _, let message) where status == 401 {
            throw ClientError.io("your session ended (\(message)); run `agentos login` again")
        }
        try save(refreshed)
        return refreshed
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

/// An advisory `flock` on a file (made 0600 when missing), waited for without blocking a
/// Swift concurrency thread.
public final class FileLock: @unchecked Sendable {
    private let descriptor: Int32

    public init(path: String) throws {
        descriptor = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw ClientError.io("cannot open \(path): \(String(cString: strerror(errno)))") }
    }

    deinit { close(descriptor) }

    /// Takes the lock, waiting up to 30 s for another process to let go of it.
    public func acquire() async throws {
        for _ in 0..<300 {
            if tryAcquire() { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw ClientError.io("another agentos process holds the credentials lock")
    }

    /// Takes the lock, blocking this thread until it is free: for a short critical section at
    /// a process's start (a store's migration), never on a cooperative thread for long.
    public func acquireBlocking() {
        while flock(descriptor, LOCK_EX) != 0, errno == EINTR {}
    }

    /// Takes the lock if nobody holds it.
    public func tryAcquire() -> Bool { flock(descriptor, LOCK_EX | LOCK_NB) == 0 }

    public func release() { flock(descriptor, LOCK_UN) }
}
