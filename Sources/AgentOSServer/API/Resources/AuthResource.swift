import AgentOSAPI
import AgentOSAuth
import AgentOSStore
import AgentOSWire
import Foundation

/// Logging in, refreshing and ending sessions, and who the caller is.
struct AuthResource: APIResource {
    static let operations: [APIOperation] = [.logout, .me]

    let context: APIContext
    let tokens: AccessTokens
    let passwords: Passwords
    let throttle: LoginThrottle
    let sessionLifetime: TimeInterval
    let signals: any DispatchSignals

    func respond(to request: APICall, as caller: Caller) async throws -> Reply {
        switch request.operation {
        case .logout: return try logout(caller)
        case .me: return try .ok(Schemas.User(caller.user))
        default: throw APIError.notFound("operation")
        }
    }

    /// Refresh tokens start with this.
    static let refreshTokenPrefix = "aos_rt_"

    func login(_ request: APICall) async throws -> Reply {
        let body = try request.body(Schemas.LoginRequest.self)
        let email = try FieldRules.emailLookup(body.email, "email")
        let password = try FieldRules.required(body.password, "password", maxLength: 1024)
        if let wait = throttle.begin(account: email, address: request.client) {
            throw APIError.retryLater(429, "rate_limited", "too many failed logins; try again in \(wait) s", after: Double(wait))
        }
        let user = try store.user(email: email)
        // Always one bcrypt verification, user or not: timing does not tell which emails exist.
        let passwordMatches = await passwords.verifyOffloaded(password, hash: user?.passwordHash)
        guard let user, passwordMatches, !user.disabled else {
            logger.notice("failed login", metadata: ["email": "\(email.prefix(320))"])
            audit("auth.login_failed", caller: nil, target: user?.id, address: request.client, actorEmail: String(email.prefix(320)))
            throw APIError(401, "invalid_credentials", "email or password is wrong")
        }
        throttle.succeeded(account: email, address: request.client)
        let session = AuthSession(userID: user.id, lifetime: sessionLifetime, address: request.client)
        let refreshToken = SecretToken.generate(prefix: Self.refreshTokenPrefix)
        try store.createSession(session, refreshTokenHash: SecretToken.hash(refreshToken))
        let caller = Caller(user: user, credential: .session(session.id))
        audit("auth.login", caller: caller, target: user.id, address: request.client)
        logger.info("login", metadata: ["user": "\(user.id)"])
        return try .ok(try await tokenPair(user: user, session: session, refreshToken: refreshToken))
    }

    private func tokenPair(user: User, session: AuthSession, refreshToken: String) async throws -> Schemas.TokenPair {
        Schemas.TokenPair(
            accessToken: try await tokens.issue(userID: user.id, sessionID: session.id), tokenType: "Bearer",
            expiresIn: tokens.lifetime, refreshToken: refreshToken, refreshExpiresAt: session.expiresAt, user: Schemas.User(user))
    }

    func refresh(_ request: APICall) async throws -> Reply {
        let presented = try FieldRules.required(try request.body(Schemas.RefreshRequest.self).refreshToken, "refresh_token", maxLength: 512)
        let replacement = SecretToken.generate(prefix: Self.refreshTokenPrefix)
        switch try store.rotateRefreshToken(hash: SecretToken.hash(presented), newHash: SecretToken.hash(replacement)) {
        case .rotated(let session, let user):
            return try .ok(try await tokenPair(user: user, session: session, refreshToken: replacement))
        case .reused(let session):
            // Someone holds a copy: end the session for everyone and say so in the log.
            signals.revoke(.credential(.session(session.id)))
            logger.warning("refresh token reused; session revoked", metadata: ["session": "\(session.id)", "user": "\(session.userID)"])
            audit("auth.refresh_reused", caller: nil, target: session.userID, detail: ["session": .string(session.id)], address: request.client)
            throw APIError(401, "refresh_token_reused", "this refresh token was already used; the session is revoked, log in again")
        case .invalid:
            throw APIError(401, "invalid_refresh_token", "the refresh token is unknown, expired or revoked")
        }
    }

    func logout(_ caller: Caller) throws -> Reply {
        if case .session(let sessionID) = caller.credential {
            try store.revokeSession(id: sessionID, reason: "logout")
            signals.revoke(.credential(.session(sessionID)))
            audit("auth.logout", caller: caller, target: caller.user.id)
        }
        return .noContent
    }
}
