import AgentOSStore
import Foundation
import PostgresNIO

extension PostgresStore {
    public func createSession(_ session: AuthSession, refreshTokenHash: String) throws {
        try write { db in
            try await db.insert(session, into: "auth_sessions", logger: logger)
            try await db.insert(
                RefreshToken(sessionID: session.id, tokenHash: refreshTokenHash, createdAt: session.createdAt),
                into: "refresh_tokens", logger: logger)
        }
    }

    public func session(id: String) throws -> AuthSession? {
        try read { db in try await db.one(AuthSession.self, "SELECT * FROM auth_sessions WHERE id = \(id)", logger: logger) }
    }

    public func rotateRefreshToken(hash: String, newHash: String, now: Date) throws -> RefreshOutcome {
        try write { db in
            // Both rows locked: of two servers exchanging the same token at once, the second
            // waits, then sees it spent.
            guard var token = try await db.one(
                    RefreshToken.self, "SELECT * FROM refresh_tokens WHERE token_hash = \(hash) FOR UPDATE", logger: logger),
                var session = try await db.one(
                    AuthSession.self, "SELECT * FROM auth_sessions WHERE id = \(token.sessionID) FOR UPDATE", logger: logger)
            else { return .invalid }
            if token.usedAt != nil {
                if session.revokedAt == nil {
                    session.revokedAt = now
                    session.revokedReason = "refresh token reused"
                    try await db.update(session, in: "auth_sessions", logger: logger)
                    try await db.notify([StoreNotification.revoked(.session(session.id))], logger: logger)
                }
                return .reused(session: session)
            }
            guard session.isLive(at: now),
                let user = try await db.one(User.self, "SELECT * FROM users WHERE id = \(session.userID)", logger: logger), !user.disabled
            else { return .invalid }
            token.usedAt = now
            try await db.update(token, in: "refresh_tokens", logger: logger)
            try await db.insert(RefreshToken(sessionID: session.id, tokenHash: newHash, createdAt: now), into: "refresh_tokens", logger: logger)
            session.lastUsedAt = now
            try await db.update(session, in: "auth_sessions", logger: logger)
            return .rotated(session: session, user: user)
        }
    }

    @discardableResult
    public func revokeSession(id: String, reason: String, now: Date) throws -> Bool {
        try write { db in
            let revoked = try await db.run("""
                UPDATE auth_sessions SET revoked_at = \(now), revoked_reason = \(reason)
                WHERE id = \(id) AND revoked_at IS NULL RETURNING 1
                """, logger: logger) == 1
            if revoked { try await db.notify([StoreNotification.revoked(.session(id))], logger: logger) }
            return revoked
        }
    }

    @discardableResult
    public func createPersonalToken(_ token: PersonalToken) throws -> PersonalToken {
        try write { db in try await db.insert(token, into: "personal_tokens", logger: logger) }
        return token
    }

    public func usePersonalToken(hash: String, now: Date) throws -> PersonalToken? {
        guard var token = try read({ db in
            try await db.one(PersonalToken.self, "SELECT * FROM personal_tokens WHERE token_hash = \(hash)", logger: logger)
        }), token.isLive(at: now)
        else { return nil }
        if token.lastUsedAt.map({ now.timeIntervalSince($0) > 60 }) ?? true {
            token.lastUsedAt = now
            // Only that column: a revocation written meanwhile must stand.
            let id = token.id
            try write { db in
                try await db.run("UPDATE personal_tokens SET last_used_at = \(now) WHERE id = \(id) RETURNING 1", logger: logger)
            }
        }
        return token
    }

    public func personalToken(id: String) throws -> PersonalToken? {
        try read { db in try await db.one(PersonalToken.self, "SELECT * FROM personal_tokens WHERE id = \(id)", logger: logger) }
    }

    public func personalTokens(userID: String) throws -> [PersonalToken] {
        try read { db in
            try await db.all(PersonalToken.self, "SELECT * FROM personal_tokens WHERE user_id = \(userID) ORDER BY created_at DESC, id", logger: logger)
        }
    }

    @discardableResult
    public func revokePersonalToken(id: String, now: Date) throws -> Bool {
        try write { db in
            let revoked = try await db.run(
                "UPDATE personal_tokens SET revoked_at = \(now) WHERE id = \(id) AND revoked_at IS NULL RETURNING 1", logger: logger) == 1
            if revoked { try await db.notify([StoreNotification.revoked(.personalToken(id))], logger: logger) }
            return revoked
        }
    }
}
