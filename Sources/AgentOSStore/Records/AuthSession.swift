import Foundation
import GRDB

/// One login: the access tokens it issues name it, and its refresh tokens form one rotation
/// family. Revoking it (logout, reuse of a spent refresh token) stops all of them at once.
public struct AuthSession: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "auth_sessions"

    public var id: String
    public var userID: String
    public var createdAt: Date
    /// The refresh tokens stop working after this; the user logs in again.
    public var expiresAt: Date
    public var lastUsedAt: Date
    public var revokedAt: Date?
    public var revokedReason: String?
    /// Client address at login.
    public var address: String?

    public init(id: String = UUID().uuidString.lowercased(), userID: String, now: Date = Date(), lifetime: TimeInterval, address: String?) {
        self.id = id
        self.userID = userID
        self.createdAt = now
        self.expiresAt = now.addingTimeInterval(lifetime)
        self.lastUsedAt = now
        self.address = address
    }

    /// Whether tokens of this session still work at `now`.
    public func isLive(at now: Date = Date()) -> Bool { revokedAt == nil && expiresAt > now }

    enum CodingKeys: String, CodingKey {
        case id, address
        case userID = "user_id"
        case createdAt = "created_at"
        case expiresAt = "expires_at"
        case lastUsedAt = "last_used_at"
        case revokedAt = "revoked_at"
        case revokedReason = "revoked_reason"
    }
}

/// A refresh token of a session; only its SHA-256 is stored. Used once, then replaced.
public struct RefreshToken: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "refresh_tokens"

    public var id: String
    public var sessionID: String
    public var tokenHash: String
    public var createdAt: Date
    /// Set when exchanged; a second use means the token leaked.
    public var usedAt: Date?

    public init(id: String = UUID().uuidString.lowercased(), sessionID: String, tokenHash: String, createdAt: Date = Date()) {
        self.id = id
        self.sessionID = sessionID
        self.tokenHash = tokenHash
        self.createdAt = createdAt
    }

    enum CodingKeys: String, CodingKey {
        case id
        case sessionID = "session_id"
        case tokenHash = "token_hash"
        case createdAt = "created_at"
        case usedAt = "used_at"
    }
}

/// A personal access token for programs; only its SHA-256 is stored.
public struct PersonalToken: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "personal_tokens"

    public var id: String
    public var userID: String
    public var name: String
    public var tokenHash: String
    /// The first characters of the secret, so a user can tell tokens apart.
    public var prefix: String
    public var createdAt: Date
    public var expiresAt: Date?
    public var lastUsedAt: Date?
    public var revokedAt: Date?
    /// The Z85 CURVE public key derived from the secret (`SecretToken.busKeySeed`), by which
    /// the bus knows a desktop at the handshake; nil for tokens made before the bus had CURVE.
    public var curveKey: String?

    public init(
        id: String = UUID().uuidString.lowercased(), userID: String, name: String, tokenHash: String, prefix: String,
        curveKey: String? = nil, createdAt: Date = Date(), expiresAt: Date?
    ) {
        self.id = id
        self.curveKey = curveKey
        self.userID = userID
        self.name = name
        self.tokenHash = tokenHash
        self.prefix = prefix
        self.createdAt = createdAt
        self.expiresAt = expiresAt
    }

    /// Whether it works at `now`.
    public func isLive(at now: Date = Date()) -> Bool { revokedAt == nil && (expiresAt.map { $0 > now } ?? true) }

    enum CodingKeys: String, CodingKey {
        case id, name, prefix
        case userID = "user_id"
        case tokenHash = "token_hash"
        case curveKey = "curve_key"
        case createdAt = "created_at"
        case expiresAt = "expires_at"
        case lastUsedAt = "last_used_at"
        case revokedAt = "revoked_at"
    }
}
