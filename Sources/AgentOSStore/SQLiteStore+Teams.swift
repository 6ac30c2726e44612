import AgentOSWire
import Foundation
import GRDB

extension SQLiteStore {
    @discardableResult
    public func createTeam(name: String, owner: String) throws -> Team {
        try StoreError.mapping("a team named \(name) already exists") {
            try writer.write { db in
                let team = try Team(name: name, createdBy: owner).inserted(db)
                try TeamMember(teamID: team.id, userID: owner, role: .owner).insert(db)
                return team
            }
        }
    }

    public func team(idOrName: String) throws -> Team? {
        try writer.read { db in
            try Team.fetchOne(db, key: idOrName) ?? Team.filter(Column("name").collating(.nocase) == idOrName).fetchOne(db)
        }
    }

    public func teams(memberID userID: String?) throws -> [Team] {
        try writer.read { db in
            var request = Team.order(Column("name").collating(.nocase))
            if let userID {
                request = request.filter(sql: "id IN (SELECT team_id FROM team_members WHERE user_id = ?)", arguments: [userID])
            }
            return try request.fetchAll(db)
        }
    }

    public func teamRole(of userID: String, in teamID: String) throws -> TeamRole? {
        try writer.read { db in try TeamMember.fetchOne(db, key: ["team_id": teamID, "user_id": userID])?.role }
    }

    public func teamMembers(teamID: String) throws -> [(User, TeamRole)] {
        try writer.read { db in
            let members = try TeamMember.filter(Column("team_id") == teamID).fetchAll(db)
            return try members.compactMap { member in try User.fetchOne(db, key: member.userID).map { ($0, member.role) } }
                .sorted { $0.0.email.lowercased() < $1.0.email.lowercased() }
        }
    }

    public func setTeamMember(teamID: String, userID: String, role: TeamRole) throws {
        try writer.write { db in
            if role != .owner { try requireAnotherTeamOwner(db, teamID: teamID, besides: userID) }
            try TeamMember(teamID: teamID, userID: userID, role: role).upsert(db)
        }
    }

    @discardableResult
    public func removeTeamMember(teamID: String, userID: String) throws -> Bool {
        try writer.write { db in
            try requireAnotherTeamOwner(db, teamID: teamID, besides: userID)
            return try TeamMember.deleteOne(db, key: ["team_id": teamID, "user_id": userID])
        }
    }

    private func requireAnotherTeamOwner(_ db: Database, teamID: String, besides userID: String) throws {
        guard try TeamMember.fetchOne(db, key: ["team_id": teamID, "user_id": userID])?.role == .owner else { return }
        let others = try TeamMember.filter(Column("team_id") == teamID && Column("role") == TeamRole.owner && Column("user_id") != userID).fetchCount(db)
        if others == 0 { throw StoreError.conflict("a team keeps at least one owner") }
    }
}
