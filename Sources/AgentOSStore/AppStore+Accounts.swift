import Foundation
import GRDB

extension AppStore {
    /// Whether any account exists (false only on first start).
    public func hasUsers() throws -> Bool {
        try writer.read { db in try User.fetchCount(db) > 0 }
    }

    /// Creates an account; `conflict` when the email is taken.
    @discardableResult
    public func createUser(_ user: User) throws -> User {
        try StoreError.mapping("a user with this email already exists") {
            try writer.write { db in try user.inserted(db) }
        }
    }

    /// First start, in one transaction: the admin, the `default` project they own, and the
    /// cloud-worker token. Nothing is written unless all of it is.
    public func createFirstStart(admin: User, workerToken: WorkerToken) throws {
        try writer.write { db in
            try admin.insert(db)
            let project = try Project(name: "default", createdBy: admin.id).inserted(db)
            try ProjectMember(projectID: project.id, userID: admin.id, role: .owner).insert(db)
            try workerToken.insert(db)
        }
    }

    /// The account with this id.
    public func user(id: String) throws -> User? {
        try writer.read { db in try User.fetchCached(db, id: id) }
    }

    /// The account with this email, ignoring case.
    public func user(email: String) throws -> User? {
        try writer.read { db in
            try User.filter(Column("email").collating(.nocase) == email).fetchOne(db)
        }
    }

    /// Stores a worker token record (the secret itself is never stored).
    @discardableResult
    public func createWorkerToken(_ token: WorkerToken) throws -> WorkerToken {
        try writer.write { db in try token.inserted(db) }
    }

    /// The live (unrevoked) worker token with this hash.
    public func liveWorkerToken(hash: String) throws -> WorkerToken? {
        try writer.read { db in
            try WorkerToken.filter(Column("token_hash") == hash && Column("revoked_at") == nil).fetchOne(db)
        }
    }
}
