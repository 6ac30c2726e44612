import AgentOSWire
import Foundation

extension Schemas {
    /// An account, as the API shows it (never its password hash).
    public struct User: APISchema, Equatable {
        public var id: String
        public var email: String
        public var name: String
        public var role: SystemRole
        public var disabled: Bool
        public var createdAt: Date

        public init(
            id: String, email: String, name: String, role: SystemRole, disabled: Bool, createdAt: Date
        ) {
            self.id = id
            self.email = email
            self.name = name
            self.role = role
            self.disabled = disabled
            self.createdAt = createdAt
        }

        enum CodingKeys: String, CodingKey {
            case id
            case email
            case name
            case role
            case disabled
            case createdAt = "created_at"
        }
    }

    /// `GET /users`.
    public struct UserList: APISchema, Equatable {
        public var users: [User]

        public init(
            users: [User]
        ) {
            self.users = users
        }
    }

    /// `POST /users`: the name defaults to the part of the e-mail before `@`, the role to `user`.
    public struct CreateUserRequest: APISchema, Equatable {
        public static var fieldSchemas: [String: JSONValue] {
            [
                "password": ["minLength": 8, "maxLength": 72],
                "email": ["maxLength": 320],
                "name": ["maxLength": 200],
            ]
        }

        public var email: String
        public var password: String
        public var name: String?
        public var role: SystemRole?

        public init(
            email: String, password: String, name: String? = nil, role: SystemRole? = nil
        ) {
            self.email = email
            self.password = password
            self.name = name
            self.role = role
        }
    }

    /// `PATCH /users/{user}`: only the fields given change.
    public struct UpdateUserRequest: APISchema, Equatable {
        public static var fieldSchemas: [String: JSONValue] {
            [
                "password": ["minLength": 8, "maxLength": 72],
                "name": ["maxLength": 200],
            ]
        }

        public var role: SystemRole?
        public var disabled: Bool?
        public var name: String?
        public var password: String?

        public init(
            role: SystemRole? = nil, disabled: Bool? = nil, name: String? = nil, password: String? = nil
        ) {
            self.role = role
            self.disabled = disabled
            self.name = name
            self.password = password
        }
    }

    /// A personal access token; `token` (the secret) only in the response that creates it.
    public struct PersonalToken: APISchema, Equatable {
        public static var fieldSchemas: [String: JSONValue] {
            [
                "token": ["description": "Only in the creation response"],
            ]
        }

        public var id: String
        public var name: String
        public var prefix: String
        public var token: String?
        public var createdAt: Date
        @Nullable public var expiresAt: Date?
        @Nullable public var lastUsedAt: Date?
        @Nullable public var revokedAt: Date?
        public var revoked: Bool

        public init(
            id: String, name: String, prefix: String, token: String? = nil, createdAt: Date, expiresAt: Date? = nil,
            lastUsedAt: Date? = nil, revokedAt: Date? = nil, revoked: Bool
        ) {
            self.id = id
            self.name = name
            self.prefix = prefix
            self.token = token
            self.createdAt = createdAt
            self.expiresAt = expiresAt
            self.lastUsedAt = lastUsedAt
            self.revokedAt = revokedAt
            self.revoked = revoked
        }

        enum CodingKeys: String, CodingKey {
            case id
            case name
            case prefix
            case token
            case createdAt = "created_at"
            case expiresAt = "expires_at"
            case lastUsedAt = "last_used_at"
            case revokedAt = "revoked_at"
            case revoked
        }
    }

    /// `GET /tokens`.
    public struct PersonalTokenList: APISchema, Equatable {
        public var tokens: [PersonalToken]

        public init(
            tokens: [PersonalToken]
        ) {
            self.tokens = tokens
        }
    }

    /// `POST /tokens`: `expires_in` seconds (60 s to 10 years), or never.
    public struct CreateTokenRequest: APISchema, Equatable {
        public static var fieldSchemas: [String: JSONValue] {
            [
                "name": ["maxLength": 100],
                "expires_in": ["minimum": 60, "maximum": 315_360_000],
            ]
        }

        public var name: String
        public var expiresIn: Int?

        public init(
            name: String, expiresIn: Int? = nil
        ) {
            self.name = name
            self.expiresIn = expiresIn
        }

        enum CodingKeys: String, CodingKey {
            case name
            case expiresIn = "expires_in"
        }
    }

    /// One line of the audit log.
    public struct AuditEntry: APISchema, Equatable {
        public var seq: Int
        public var at: Date
        public var action: String
        @Nullable public var actorID: String?
        @Nullable public var actorEmail: String?
        @Nullable public var target: String?
        @Nullable public var projectID: String?
        public var detail: [String: JSONValue]
        @Nullable public var address: String?

        public init(
            seq: Int, at: Date, action: String, actorID: String? = nil, actorEmail: String? = nil, target: String? = nil,
            projectID: String? = nil, detail: [String: JSONValue], address: String? = nil
        ) {
            self.seq = seq
            self.at = at
            self.action = action
            self.actorID = actorID
            self.actorEmail = actorEmail
            self.target = target
            self.projectID = projectID
            self.detail = detail
            self.address = address
        }

        enum CodingKeys: String, CodingKey {
            case seq
            case at
            case action
            case actorID = "actor_id"
            case actorEmail = "actor_email"
            case target
            case projectID = "project_id"
            case detail
            case address
        }
    }

    /// `GET /audit`, newest first.
    public struct AuditList: APISchema, Equatable {
        public var entries: [AuditEntry]
        @Nullable public var nextCursor: String?

        public init(
            entries: [AuditEntry], nextCursor: String? = nil
        ) {
            self.entries = entries
            self.nextCursor = nextCursor
        }

        enum CodingKeys: String, CodingKey {
            case entries
            case nextCursor = "next_cursor"
        }
    }
}
