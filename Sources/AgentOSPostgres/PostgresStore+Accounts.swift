import AgentOSStore
import AgentOSWire
import Foundation
import PostgresNIO

extension PostgresStore {
    public func hasUsers() throws -> Bool {
        try read { db in try await db.scalar(Bool.self, "SELECT EXISTS (SELECT 1 FROM users)", logger: logger) ?? false }
    }

    @discardableResult
    public func createUser(_ user: User) throws -> User {
        try mappingConflict("a user with this email already exists") {
            try write { db in try await db.insert(user, into: "users", logger: logger) }
        }
        return user
    }

    public func createFirstStart(admin: User, workerToken: WorkerToken) throws {
        try write { db in
            try await db.insert(admin, into: "users", logger: logger)
            let project = Project(name: "default", createdBy: admin.id)
            try await db.insert(project, into: "projects", logger: logger)
            try await db.insert(ProjectMember(projectID: project.id, userID: admin.id, role: .owner), into: "project_members", logger: logger)
            try await db.insert(workerToken, into: "worker_tokens", logger: logger)
        }
    }

    public func user(id: String) throws -> User? {
        try read { db in try await db.one(User.self, "SELECT * FROM users WHERE id = \(id)", logger: logger) }
    }

    public func user(email: String) throws -> User? {
        // The column's collation (agentos_nocase) compares ignoring case.
        try read { db in try await db.one(User.self, "SELECT * FROM users WHERE email = \(email)", logger: logger) }
    }

    public func users() throws -> [User] {
        try read { db in try await db.all(User.self, "SELECT * FROM users ORDER BY lower(email) COLLATE \"C\", id", logger: logger) }
    }

    public func updateUser(id: String, _ change: (inout User) -> Void) throws -> (before: User, after: User) {
        try write { db in
            // User changes take turns (they are rare): two servers demoting the last two admins
            // at once cannot both see the other still there, nor deadlock on each other's rows.
            try await db.lockName("users", "update", logger: logger)
            guard let before = try await db.one(User.self, "SELECT * FROM users WHERE id = \(id) FOR UPDATE", logger: logger) else {
                throw StoreError.notFound("user")
            }
            var after = before
            change(&after)
            let wasActiveAdmin = before.role == .admin && !before.disabled
            let isActiveAdmin = after.role == .admin && !after.disabled
            if wasActiveAdmin && !isActiveAdmin {
                let admins = try await db.column(String.self, """
                    SELECT id FROM users WHERE role = 'admin' AND NOT disabled
                    """, logger: logger)
                guard admins.contains(where: { $0 != id }) else {
                    throw StoreError.conflict("the last enabled admin cannot be demoted or disabled")
                }
            }
            try await db.update(after, in: "users", logger: logger)
            if after.disabled && !before.disabled { try await db.notify([StoreNotification.revoked(.user(id))], logger: logger) }
            return (before, after)
        }
    }

    @discardableResult
    public func createWorkerToken(_ token: WorkerToken) throws -> WorkerToken {
        try write { db in try await db.insert(token, into: "worker_tokens", logger: logger) }
        return token
    }

    public func liveWorkerToken(hash: String) throws -> WorkerToken? {
        try read { db in
            try await db.one(WorkerToken.self, "SELECT * FROM worker_tokens WHERE token_hash = \(hash) AND revoked_at IS NULL", logger: logger)
        }
    }

    public func workerTokens() throws -> [WorkerToken] {
        try read { db in try await db.all(WorkerToken.self, "SELECT * FROM worker_tokens ORDER BY created_at DESC, id", logger: logger) }
    }

    public func workerToken(id: String) throws -> WorkerToken? {
        try read { db in try await db.one(WorkerToken.self, "SELECT * FROM worker_tokens WHERE id = \(id)", logger: logger) }
    }

    @discardableResult
    public func revokeWorkerToken(id: String, now: Date) throws -> Bool {
        try write { db in
            let revoked = try await db.run(
                "UPDATE worker_tokens SET revoked_at = \(now) WHERE id = \(id) AND revoked_at IS NULL RETURNING 1", logger: logger) == 1
            if revoked { try await db.notify([StoreNotification.revoked(.workerToken(id))], logger: logger) }
            return revoked
        }
    }

    public func busPeer(curveKey: String, now: Date) throws -> BusPeer? {
        try read { db in
            if let token = try await db.one(
                WorkerToken.self, "SELECT * FROM worker_tokens WHERE curve_key = \(curveKey) AND revoked_at IS NULL", logger: logger)
            {
                return .workerToken(id: token.id)
            }
            guard let token = try await db.one(PersonalToken.self, "SELECT * FROM personal_tokens WHERE curve_key = \(curveKey)", logger: logger),
                token.isLive(at: now),
                let user = try await db.one(User.self, "SELECT * FROM users WHERE id = \(token.userID)", logger: logger), !user.disabled
            else { return nil }
            return .personalToken(id: token.id, userID: user.id)
        }
    }

    public func setWorkerTokenCurveKey(hash: String, curveKey: String) throws {
        try write { db in
            try await db.run("""
                UPDATE worker_tokens SET curve_key = \(curveKey) WHERE token_hash = \(hash) AND curve_key IS NULL RETURNING 1
                """, logger: logger)
        }
    }

    public func audit(_ entry: AuditEntry) throws {
        // `seq` is the table's identity: left out, the database numbers the entry.
        var entry = entry
        entry.seq = nil
        try write { db in try await db.insert(entry, into: "audit_log", omittingNull: ["seq"], logger: logger) }
    }

    public func auditEntries(action: String?, beforeSeq: Int64?, limit: Int) throws -> [AuditEntry] {
        try read { db in
            // A trailing dot asks for a family of actions (`auth.`), matched as a prefix.
            let prefix = action.flatMap { $0.hasSuffix(".") ? $0 : nil }
            let exact = prefix == nil ? action : nil
            return try await db.all(AuditEntry.self, """
                SELECT * FROM audit_log
                WHERE (\(exact)::text IS NULL OR action = \(exact))
                  AND (\(prefix)::text IS NULL OR starts_with(action, \(prefix)))
                  AND (\(beforeSeq)::bigint IS NULL OR seq < \(beforeSeq))
                ORDER BY seq DESC LIMIT \(limit)
                """, logger: logger)
        }
    }
}
