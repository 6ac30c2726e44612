import AgentOSWire
import Foundation
import GRDB

extension SQLiteStore {
    @discardableResult
    public func createProject(name: String, owner: String, teamID: String?, allowNetwork: Bool) throws -> Project {
        try StoreError.mapping("a project named \(name) already exists") {
            try writer.write { db in
                // Names differing only in case would read as one project.
                if try Project.filter(sql: "name = ? COLLATE NOCASE", arguments: [name]).fetchCount(db) > 0 {
                    throw StoreError.conflict("a project named \(name) already exists (names are compared ignoring case)")
                }
                let project = try Project(name: name, teamID: teamID, createdBy: owner, allowNetwork: allowNetwork).inserted(db)
                try ProjectMember(projectID: project.id, userID: owner, role: .owner).insert(db)
                return project
            }
        }
    }

    public func setProjectNetwork(id: String, allowed: Bool) throws -> Project? {
        try writer.write { db in
            guard var project = try Project.fetchOne(db, key: id) else { return nil }
            project.allowNetwork = allowed
            try project.update(db)
            return project
        }
    }

    public func project(idOrName: String) throws -> Project? {
        try writer.read { db in
            try Project.fetchCached(db, id: idOrName)
                ?? Project.fetchOne(db.cachedStatement(sql: "SELECT * FROM projects WHERE name = ?"), arguments: [idOrName])
        }
    }

    public func project(id: String) throws -> Project? {
        try writer.read { db in try Project.fetchCached(db, id: id) }
    }

    public func projects(visibleTo userID: String?) throws -> [Project] {
        try writer.read { db in
            var request = Project.order(Column("name"))
            if let userID {
                request = request.filter(
                    sql: """
                        id IN (SELECT project_id FROM project_members WHERE user_id = ?)
                        OR team_id IN (SELECT team_id FROM team_members WHERE user_id = ? AND role = 'owner')
                        """, arguments: [userID, userID])
            }
            return try request.fetchAll(db)
        }
    }

    public func setMember(projectID: String, userID: String, role: ProjectRole) throws {
        try writer.write { db in
            if role != .owner { try requireAnotherOwner(db, projectID: projectID, besides: userID) }
            try ProjectMember(projectID: projectID, userID: userID, role: role).upsert(db)
        }
    }

    @discardableResult
    public func removeMember(projectID: String, userID: String) throws -> Bool {
        try writer.write { db in
            try requireAnotherOwner(db, projectID: projectID, besides: userID)
            return try ProjectMember.deleteOne(db, key: ["project_id": projectID, "user_id": userID])
        }
    }

    private func requireAnotherOwner(_ db: Database, projectID: String, besides userID: String) throws {
        guard try ProjectMember.fetchOne(db, key: ["project_id": projectID, "user_id": userID])?.role == .owner else { return }
        let others = try ProjectMember.filter(Column("project_id") == projectID && Column("role") == ProjectRole.owner && Column("user_id") != userID).fetchCount(db)
        if others == 0 { throw StoreError.conflict("a project keeps at least one owner") }
    }

    public func role(of userID: String, in projectID: String) throws -> ProjectRole? {
        try writer.read { db in
            let member = try ProjectMember.fetchOne(
                db.cachedStatement(sql: "SELECT * FROM project_members WHERE project_id = ? AND user_id = ?"),
                arguments: [projectID, userID])?.role
            let ownsTeam = try Bool.fetchOne(db.cachedStatement(sql: """
                SELECT EXISTS (SELECT 1 FROM projects p JOIN team_members t ON t.team_id = p.team_id
                               WHERE p.id = ? AND t.user_id = ? AND t.role = 'owner')
                """), arguments: [projectID, userID]) ?? false
            return ownsTeam ? .owner : member
        }
    }

    public func members(projectID: String) throws -> [(User, ProjectRole)] {
        try writer.read { db in
            let members = try ProjectMember.filter(Column("project_id") == projectID).fetchAll(db)
            return try members.compactMap { member in try User.fetchOne(db, key: member.userID).map { ($0, member.role) } }
                .sorted { $0.0.email.lowercased() < $1.0.email.lowercased() }
        }
    }

    public func deleteProject(id: String) throws -> (orphanedBlobs: [String], queuedJobs: [String]) {
        try writer.write { db in
            let hashes = try String.fetchAll(db, sql: "SELECT DISTINCT sha256 FROM files WHERE project_id = ?", arguments: [id])
            let queued = try String.fetchAll(db, sql: "SELECT id FROM jobs WHERE project_id = ? AND status = 'queued'", arguments: [id])
            try db.execute(sql: "DELETE FROM jobs WHERE project_id = ?", arguments: [id])
            _ = try Project.deleteOne(db, key: id)
            return (try hashes.filter { try StoredFile.filter(Column("sha256") == $0).fetchCount(db) == 0 }, queued)
        }
    }
}
