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
        case .me: return .ok(Representation.user(caller.user))
        default: throw APIError.notFound("operation")
        }
    }

    /// Refresh tokens start with this.
    static let refreshTokenPrefix = "aos_rt_"

    func login(_ request: APICall) async throws -> Reply {
        let reader = try BodyReader(request.body)
        let email = try reader.string("email", maxLength: 320, required: true) ?? ""
        let password = try reader.string("password", maxLength: 1024, required: true) ?? ""
        if let wait = throttle.retryAfter(account: email, address: request.client) {
            var error = APIError(429, "rate_limited", "too many failed logins; try again in \(wait) s")
            error.headers = ["Retry-After": String(wait)]
            throw error
        }
        let user = try store.user(email: email)
        // Always one bcrypt verification, user or not: timing does not tell which emails exist.
        let passwordMatches = await passwords.verifyOffloaded(password, hash: user?.passwordHash)
        guard let user, passwordMatches, !user.disabled else {
            throttle.failed(account: email, address: request.client)
            logger.notice("failed login", metadata: ["email": "\(email.prefix(320))"])
            audit("auth.login_failed", caller: nil, target: user?.id, address: request.client, actorEmail: String(email.prefix(320)))
            throw APIError(401, "invalid_credentials", "email or password is wrong")
        }
        throttle.succeeded(account: email)
        let session = AuthSession(userID: user.id, lifetime: sessionLifetime, address: request.client)
        let refreshToken = SecretToken.generate(prefix: Self.refreshTokenPrefix)
        try store.createSession(session, refreshTokenHash: SecretToken.hash(refreshToken))
        let caller = Caller(user: user, credential: .session(session.id))
        audit("auth.login", caller: caller, target: user.id, address: request.client)
        logger.info("login", metadata: ["user": "\(user.id)"])
        return .ok(try await tokenPair(user: user, session: session, refreshToken: refreshToken))
    }

    private func tokenPair(user: User, session: AuthSession, refreshToken: String) async throws -> JSONValue {
        [
            "access_token": .string(try await tokens.issue(userID: user.id, sessionID: session.id)),
            "token_type": "Bearer",
            "expires_in": .number(tokens.lifetime),
            "refresh_token": .string(refreshToken),
            "refresh_expires_at": Representation.timestamp(session.expiresAt),
            "user": Representation.user(user),
        ]
    }

    func refresh(_ request: APICall) async throws -> Reply {
        let reader = try BodyReader(request.body)
        let presented = try reader.string("refresh_token", maxLength: 512, required: true) ?? ""
        let replacement = SecretToken.generate(prefix: Self.refreshTokenPrefix)
        switch try store.rotateRefreshToken(hash: SecretToken.hash(presented), newHash: SecretToken.hash(replacement)) {
        case .rotated(let session, let user):
            return .ok(try await tokenPair(user: user, session: session, refreshToken: replacement))
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
