import AgentOSStore
import AgentOSWire
import Foundation
import PostgresNIO

extension PostgresStore {
    @discardableResult
    public func createTeam(name: String, owner: String) throws -> Team {
        try mappingConflict("a team named \(name) already exists") {
            try write { db in
                let team = Team(name: name, createdBy: owner)
                try await db.insert(team, into: "teams", logger: logger)
                try await db.insert(TeamMember(teamID: team.id, userID: owner, role: .owner), into: "team_members", logger: logger)
                return team
            }
        }
    }

    public func team(idOrName: String) throws -> Team? {
        // `name` is compared ignoring case through its collation (agentos_nocase).
        try read { db in
            try await db.one(Team.self, """
                SELECT * FROM teams WHERE id = \(idOrName) OR name = \(idOrName) ORDER BY (id = \(idOrName)) DESC LIMIT 1
                """, logger: logger)
        }
    }

    public func teams(memberID userID: String?) throws -> [Team] {
        try read { db in
            guard let userID else {
                return try await db.all(Team.self, "SELECT * FROM teams ORDER BY lower(name) COLLATE \"C\", id", logger: logger)
            }
            return try await db.all(Team.self, """
                SELECT * FROM teams WHERE id IN (SELECT team_id FROM team_members WHERE user_id = \(userID))
                ORDER BY lower(name) COLLATE "C", id
                """, logger: logger)
        }
    }

    public func teamRole(of userID: String, in teamID: String) throws -> TeamRole? {
        try read { db in
            try await db.scalar(String.self, "SELECT role FROM team_members WHERE team_id = \(teamID) AND user_id = \(userID)", logger: logger)
                .flatMap(TeamRole.init(rawValue:))
        }
    }

    public func teamMembers(teamID: String) throws -> [(User, TeamRole)] {
        try read { db in
            try await db.all(UserWithRole<TeamRole>.self, """
                SELECT u.*, m.role AS member_role FROM team_members m JOIN users u ON u.id = m.user_id
                WHERE m.team_id = \(teamID) ORDER BY lower(u.email) COLLATE "C", u.id
                """, logger: logger).map { ($0.user, $0.role) }
        }
    }

    public func setTeamMember(teamID: String, userID: String, role: TeamRole) throws {
        try write { db in
            if role != .owner { try await requireAnotherOwner(db, "team_members", "team_id", teamID, besides: userID) }
            try await db.upsert(TeamMember(teamID: teamID, userID: userID, role: role), into: "team_members", key: ["team_id", "user_id"], logger: logger)
        }
    }

    @discardableResult
    public func removeTeamMember(teamID: String, userID: String) throws -> Bool {
        try write { db in
            try await requireAnotherOwner(db, "team_members", "team_id", teamID, besides: userID)
            return try await db.run("DELETE FROM team_members WHERE team_id = \(teamID) AND user_id = \(userID) RETURNING 1", logger: logger) == 1
        }
    }
}
