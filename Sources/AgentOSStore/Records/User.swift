import AgentOSWire
import Foundation
import GRDB

/// An account.
public struct User: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "users"

    /// Random id.
    public var id: String
    /// Login name, unique regardless of case.
    public var email: String
    /// Display name.
    public var name: String
    /// bcrypt hash of the password.
    public var passwordHash: String
    /// System role.
    public var role: SystemRole
    /// A disabled user cannot log in and their tokens stop working.
    public var disabled: Bool
    /// When the account was made.
    public var createdAt: Date

    /// A new, enabled account.
    public init(id: String = UUID().uuidString.lowercased(), email: String, name: String, passwordHash: String, role: SystemRole, createdAt: Date = Date()) {
        self.id = id
        self.email = email
        self.name = name
        self.passwordHash = passwordHash
        self.role = role
        self.disabled = false
        self.createdAt = createdAt
    }

    enum CodingKeys: String, CodingKey {
        case id, email, name, role, disabled
        case passwordHash = "password_hash"
        case createdAt = "created_at"
    }
}
