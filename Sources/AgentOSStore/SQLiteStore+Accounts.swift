import Foundation
import GRDB

extension SQLiteStore {
    public func hasUsers() throws -> Bool {
        try writer.read { db in try User.fetchCount(db) > 0 }
    }

    @discardableResult
    public func createUser(_ user: User) throws -> User {
        try StoreError.mapping("a user with this email already exists") {
            try writer.write { db in try user.inserted(db) }
        }
    }

    public func createFirstStart(admin: User, workerToken: WorkerToken) throws {
        try writer.write { db in
            try admin.insert(db)
            let project = try Project(name: "default", createdBy: admin.id).inserted(db)
            try ProjectMember(projectID: project.id, userID: admin.id, role: .owner).insert(db)
            try workerToken.insert(db)
        }
    }

    public func user(id: String) throws -> User? {
        try writer.read { db in try User.fetchCached(db, id: id) }
    }

    public func user(email: String) throws -> User? {
        try writer.read { db in
            try User.filter(Column("email").collating(.nocase) == email).fetchOne(db)
        }
    }

    @discardableResult
    public func createWorkerToken(_ token: WorkerToken) throws -> WorkerToken {
        try writer.write { db in try token.inserted(db) }
    }

    public func liveWorkerToken(hash: String) throws -> WorkerToken? {
        try writer.read { db in
            try WorkerToken.filter(Column("token_hash") == hash && Column("revoked_at") == nil).fetchOne(db)
        }
    }
}
