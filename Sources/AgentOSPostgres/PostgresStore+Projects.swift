import AgentOSStore
import AgentOSWire
import Foundation
import PostgresNIO

extension PostgresStore {
    @discardableResult
    public func createProject(name: String, owner: String, teamID: String?, allowNetwork: Bool) throws -> Project {
        try mappingConflict("a project named \(name) already exists") {
            try write { db in
                // Names differing only in case would read as one project.
                try await db.lockName("projects", name, logger: logger)
                let taken = try await db.scalar(Bool.self, "SELECT EXISTS (SELECT 1 FROM projects WHERE lower(name) = lower(\(name)))", logger: logger) ?? false
                if taken { throw StoreError.conflict("a project named \(name) already exists (names are compared ignoring case)") }
                let project = Project(name: name, teamID: teamID, createdBy: owner, allowNetwork: allowNetwork)
                try await db.insert(project, into: "projects", logger: logger)
                try await db.insert(ProjectMember(projectID: project.id, userID: owner, role: .owner), into: "project_members", logger: logger)
                return project
            }
        }
    }

    public func setProjectNetwork(id: String, allowed: Bool) throws -> Project? {
        try write { db in
            try await db.one(Project.self, "UPDATE projects SET allow_network = \(allowed) WHERE id = \(id) RETURNING *", logger: logger)
        }
    }

    public func project(idOrName: String) throws -> Project? {
        try read { db in
            try await db.one(Project.self, """
                SELECT * FROM projects WHERE id = \(idOrName) OR name = \(idOrName) ORDER BY (id = \(idOrName)) DESC LIMIT 1
                """, logger: logger)
        }
    }

    public func project(id: String) throws -> Project? {
        try read { db in try await db.one(Project.self, "SELECT * FROM projects WHERE id = \(id)", logger: logger) }
    }

    public func projects(visibleTo userID: String?) throws -> [Project] {
        try read { db in
            guard let userID else {
                return try await db.all(Project.self, "SELECT * FROM projects ORDER BY name COLLATE \"C\"", logger: logger)
            }
            return try await db.all(Project.self, """
                SELECT * FROM projects
                WHERE id IN (SELECT project_id FROM project_members WHERE user_id = \(userID))
                   OR team_id IN (SELECT team_id FROM team_members WHERE user_id = \(userID) AND role = 'owner')
                ORDER BY name COLLATE "C"
                """, logger: logger)
        }
    }

    public func setMember(projectID: String, userID: String, role: ProjectRole) throws {
        try write { db in
            if role != .owner { try await requireAnotherOwner(db, "project_members", "project_id", projectID, besides: userID) }
            try await db.upsert(
                ProjectMember(projectID: projectID, userID: userID, role: role), into: "project_members", key: ["project_id", "user_id"],
                logger: logger)
        }
    }

    @discardableResult
    public func removeMember(projectID: String, userID: String) throws -> Bool {
        try write { db in
            try await requireAnotherOwner(db, "project_members", "project_id", projectID, besides: userID)
            return try await db.run(
                "DELETE FROM project_members WHERE project_id = \(projectID) AND user_id = \(userID) RETURNING 1", logger: logger) == 1
        }
    }

    /// Refuses to leave a project or team without an owner when `userID` is one of its owners.
    /// Every owner's row is locked, so two servers removing the last two owners at once cannot
    /// both see the other still there.
    func requireAnotherOwner(_ db: PostgresConnection, _ table: String, _ column: String, _ id: String, besides userID: String) async throws {
        var bindings = PostgresBindings()
        bindings.append(id)
        let owners = try await db.column(String.self, PostgresQuery(
            unsafeSQL: "SELECT user_id FROM \(table) WHERE \(column) = $1 AND role = 'owner' ORDER BY user_id FOR UPDATE", binds: bindings),
            logger: logger)
        if owners.contains(userID) && owners.count == 1 {
            throw StoreError.conflict("a \(table == "project_members" ? "project" : "team") keeps at least one owner")
        }
    }

    public func role(of userID: String, in projectID: String) throws -> ProjectRole? {
        try read { db in
            let roles = try await db.column(String?.self, """
                SELECT CASE WHEN EXISTS (SELECT 1 FROM projects p JOIN team_members t ON t.team_id = p.team_id
                                         WHERE p.id = \(projectID) AND t.user_id = \(userID) AND t.role = 'owner')
                       THEN 'owner'
                       ELSE (SELECT role FROM project_members WHERE project_id = \(projectID) AND user_id = \(userID)) END
                """, logger: logger)
            return (roles.first ?? nil).flatMap(ProjectRole.init(rawValue:))
        }
    }

    public func members(projectID: String) throws -> [(User, ProjectRole)] {
        try read { db in
            try await db.all(UserWithRole<ProjectRole>.self, """
                SELECT u.*, m.role AS member_role FROM project_members m JOIN users u ON u.id = m.user_id
                WHERE m.project_id = \(projectID) ORDER BY lower(u.email) COLLATE "C", u.id
                """, logger: logger).map { ($0.user, $0.role) }
        }
    }

    public func deleteProject(id: String) throws -> (orphanedBlobs: [String], queuedJobs: [String]) {
        try write { db in
            let hashes = try await db.column(String.self, "SELECT DISTINCT sha256 FROM files WHERE project_id = \(id)", logger: logger)
            let queued = try await db.column(String.self, "SELECT id FROM jobs WHERE project_id = \(id) AND status = 'queued'", logger: logger)
            try await db.query("DELETE FROM jobs WHERE project_id = \(id)", logger: logger)
            try await db.query("DELETE FROM projects WHERE id = \(id)", logger: logger)
            try await db.notify(queued.map(StoreNotification.dequeued), logger: logger)
            var removed: [String] = []
            for hash in hashes.sorted() {
                if let gone = try await removeBlobIfUnused(hash, db) { removed.append(gone) }
            }
            return (removed, queued)
        }
    }
}

/// A user row with the role a membership gives them (column `member_role`).
struct UserWithRole<Role: RawRepresentable & Decodable>: Decodable where Role.RawValue == String {
    let user: User
    let role: Role

    private enum CodingKeys: String, CodingKey { case memberRole = "member_role" }

    init(from decoder: any Decoder) throws {
        user = try User(from: decoder)
        role = try decoder.container(keyedBy: CodingKeys.self).decode(Role.self, forKey: .memberRole)
    }
}
