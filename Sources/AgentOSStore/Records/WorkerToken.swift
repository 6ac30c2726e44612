import Foundation
import GRDB

/// A credential cloud workers present in `HELLO`; only its SHA-256 is stored.
public struct WorkerToken: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "worker_tokens"

    /// Random id.
    public var id: String
    /// What it is for.
    public var name: String
    /// Hex SHA-256 of the secret.
    public var tokenHash: String
    /// When it was made.
    public var createdAt: Date
    /// Set when revoked; a revoked token is refused.
    public var revokedAt: Date?
    /// Labels its workers may claim; nil: any.
    public var labels: [String]?
    /// The Z85 CURVE public key derived from the secret (`SecretToken.busKeySeed`), by which
    /// the bus knows its workers at the handshake; nil for tokens made before the bus had CURVE.
    public var curveKey: String?

    /// A new, live token record.
    public init(id: String = UUID().uuidString.lowercased(), name: String, tokenHash: String, labels: [String]? = nil, curveKey: String? = nil, createdAt: Date = Date()) {
        self.id = id
        self.curveKey = curveKey
        self.labels = labels
        self.name = name
        self.tokenHash = tokenHash
        self.createdAt = createdAt
        self.revokedAt = nil
    }

    enum CodingKeys: String, CodingKey {
        case id, name, labels
        case tokenHash = "token_hash"
        case curveKey = "curve_key"
        case createdAt = "created_at"
        case revokedAt = "revoked_at"
    }
}
