import AgentOSWire
import Foundation
import GRDB

/// A group of users that can hold projects.
public struct Team: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "teams"

    public var id: String
    public var name: String
    public var createdBy: String
    public var createdAt: Date

    public init(id: String = UUID().uuidString.lowercased(), name: String, createdBy: String, createdAt: Date = Date()) {
        self.id = id
        self.name = name
        self.createdBy = createdBy
        self.createdAt = createdAt
    }

    enum CodingKeys: String, CodingKey {
        case id, name
        case createdBy = "created_by"
        case createdAt = "created_at"
    }
}

/// A user's place in a team.
public struct TeamMember: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "team_members"

    public var teamID: String
    public var userID: String
    public var role: TeamRole

    public init(teamID: String, userID: String, role: TeamRole) {
        self.teamID = teamID
        self.userID = userID
        self.role = role
    }

    enum CodingKeys: String, CodingKey {
        case role
        case teamID = "team_id"
        case userID = "user_id"
    }
}
