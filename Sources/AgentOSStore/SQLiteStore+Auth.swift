import Foundation
import GRDB

extension SQLiteStore {
    public func createSession(_ session: AuthSession, refreshTokenHash: String) throws {
        try writer.write { db in
            try session.insert(db)
            try RefreshToken(sessionID: session.id, tokenHash: refreshTokenHash, createdAt: session.createdAt).insert(db)
        }
    }

    public func session(id: String) throws -> AuthSession? {
        try writer.read { db in try AuthSession.fetchCached(db, id: id) }
    }

    public func rotateRefreshToken(hash: String, newHash: String, now: Date) throws -> RefreshOutcome {
        try writer.write { db in
            guard var token = try RefreshToken.filter(Column("token_hash") == hash).fetchOne(db),
                var session = try AuthSession.fetchOne(db, key: token.sessionID)
            else { return .invalid }
            if token.usedAt != nil {
                if session.revokedAt == nil {
                    session.revokedAt = now
                    session.revokedReason = "refresh token reused"
                    try session.update(db)
                }
                return .reused(session: session)
            }
            guard session.isLive(at: now), let user = try User.fetchOne(db, key: session.userID), !user.disabled else {
                return .invalid
            }
            token.usedAt = now
            try token.update(db)
            try RefreshToken(sessionID: session.id, tokenHash: newHash, createdAt: now).insert(db)
            session.lastUsedAt = now
            try session.update(db)
            return .rotated(session: session, user: user)
        }
    }

    @discardableResult
    public func revokeSession(id: String, reason: String, now: Date) throws -> Bool {
        try writer.write { db in
            guard var session = try AuthSession.fetchOne(db, key: id), session.revokedAt == nil else { return false }
            session.revokedAt = now
            session.revokedReason = reason
            try session.update(db)
            return true
        }
    }

    @discardableResult
    public func createPersonalToken(_ token: PersonalToken) throws -> PersonalToken {
        try writer.write { db in try token.inserted(db) }
    }

    public func usePersonalToken(hash: String, now: Date) throws -> PersonalToken? {
        guard var token = try writer.read({ db in try PersonalToken.filter(Column("token_hash") == hash).fetchOne(db) }),
            token.isLive(at: now)
        else { return nil }
        if token.lastUsedAt.map({ now.timeIntervalSince($0) > 60 }) ?? true {
            token.lastUsedAt = now
            // Only that column: a revocation written meanwhile must stand.
            try writer.write { db in
                try db.execute(sql: "UPDATE personal_tokens SET last_used_at = ? WHERE id = ?", arguments: [now, token.id])
            }
        }
        return token
    }

    public func personalToken(id: String) throws -> PersonalToken? {
        try writer.read { db in try PersonalToken.fetchCached(db, id: id) }
    }

    public func personalTokens(userID: String) throws -> [PersonalToken] {
        try writer.read { db in
            try PersonalToken.filter(Column("user_id") == userID).order(Column("created_at").desc, Column("id")).fetchAll(db)
        }
    }

    @discardableResult
    public func revokePersonalToken(id: String, now: Date) throws -> Bool {
        try writer.write { db in
            guard var token = try PersonalToken.fetchOne(db, key: id), token.revokedAt == nil else { return false }
            token.revokedAt = now
            try token.update(db)
            return true
        }
    }

    public func workerTokens() throws -> [WorkerToken] {
        try writer.read { db in try WorkerToken.order(Column("created_at").desc, Column("id")).fetchAll(db) }
    }

    public func workerToken(id: String) throws -> WorkerToken? {
        try writer.read { db in try WorkerToken.fetchCached(db, id: id) }
    }

    @discardableResult
    public func revokeWorkerToken(id: String, now: Date) throws -> Bool {
        try writer.write { db in
            guard var token = try WorkerToken.fetchOne(db, key: id), token.revokedAt == nil else { return false }
            token.revokedAt = now
            try token.update(db)
            return true
        }
    }
}
