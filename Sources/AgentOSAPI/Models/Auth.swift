import AgentOSWire
import Foundation

extension Schemas {
    /// `POST /auth/login`.
    public struct LoginRequest: APISchema, Equatable {
        public static var fieldSchemas: [String: JSONValue] {
            [
                "email": ["maxLength": 320],
                "password": ["maxLength": 1024],
            ]
        }

        public var email: String
        public var password: String

        public init(
            email: String, password: String
        ) {
            self.email = email
            self.password = password
        }
    }

    /// `POST /auth/refresh`: a refresh token is good for one use.
    public struct RefreshRequest: APISchema, Equatable {
        public static var fieldSchemas: [String: JSONValue] {
            [
                "refresh_token": ["maxLength": 512],
            ]
        }

        public var refreshToken: String

        public init(
            refreshToken: String
        ) {
            self.refreshToken = refreshToken
        }

        enum CodingKeys: String, CodingKey {
            case refreshToken = "refresh_token"
        }
    }

    /// What a login or a refresh gives: a short-lived access token and the next refresh token.
    public struct TokenPair: APISchema, Equatable {
        public static var fieldSchemas: [String: JSONValue] {
            [
                "token_type": ["enum": ["Bearer"]],
            ]
        }

        public var accessToken: String
        public var tokenType: String
        public var expiresIn: Double
        public var refreshToken: String
        public var refreshExpiresAt: Date
        public var user: User

        public init(
            accessToken: String, tokenType: String, expiresIn: Double, refreshToken: String, refreshExpiresAt: Date,
            user: User
        ) {
            self.accessToken = accessToken
            self.tokenType = tokenType
            self.expiresIn = expiresIn
            self.refreshToken = refreshToken
            self.refreshExpiresAt = refreshExpiresAt
            self.user = user
        }

        enum CodingKeys: String, CodingKey {
            case accessToken = "access_token"
            case tokenType = "token_type"
            case expiresIn = "expires_in"
            case refreshToken = "refresh_token"
            case refreshExpiresAt = "refresh_expires_at"
            case user
        }
    }
}
