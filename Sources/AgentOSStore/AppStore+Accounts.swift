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
        try writer.read { db in try User.fetchOne(db, key: id) }
    }

    /// The account with this email, ignoring case.
    public func user(email: String) throws -> User? {
        try writer.read { db in
            try User.filter(Column("email").collating(.nocase) == email).fetchOne(db)
        }
    }

    /// Creates a project and makes `owner` its owner, in one transaction.
    @discardableResult
    public func createProject(name: String, owner: String) throws -> Project {
        try StoreError.mapping("a project named \(name) already exists") {
            try writer.write { db in
                let project = try Project(name: name, createdBy: owner).inserted(db)
                try ProjectMember(projectID: project.id, userID: owner, role: .owner).insert(db)
                return project
            }
        }
    }

    /// The project with this id or, failing that, this name.
    public func project(idOrName: String) throws -> Project? {
        try writer.read { db in
            try Project.fetchOne(db, key: idOrName) ?? Project.filter(Column("name") == idOrName).fetchOne(db)
        }
    }

    /// The project with this id.
    public func project(id: String) throws -> Project? {
        try writer.read { db in try Project.fetchOne(db, key: id) }
    }

    /// Sets a user's role in a project, adding them if needed.
    public func setMember(projectID: String, userID: String, role: ProjectRole) throws {
        try writer.write { db in
            try ProjectMember(projectID: projectID, userID: userID, role: role).upsert(db)
        }
    }

    /// The user's role in the project, or nil when not a member.
    public func role(of userID: String, in projectID: String) throws -> ProjectRole? {
        try writer.read { db in
            try ProjectMember.fetchOne(db, key: ["project_id": projectID, "user_id": userID])?.role
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
