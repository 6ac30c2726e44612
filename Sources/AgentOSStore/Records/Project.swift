import AgentOSWire
import Foundation
import GRDB

/// A project: the unit of ownership for jobs (and, later, skills, files, sessions).
public struct Project: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "projects"

    /// Random id.
    public var id: String
    /// Unique name, usable in URLs.
    public var name: String
    /// The team holding it, whose owners own it too.
    public var teamID: String?
    /// Who made it.
    public var createdBy: String
    /// When it was made.
    public var createdAt: Date
    /// Whether its jobs may have the network when they ask (`limits.network`). Admins set it.
    public var allowNetwork: Bool

    /// A new project.
    public init(
        id: String = UUID().uuidString.lowercased(), name: String, teamID: String? = nil, createdBy: String,
        createdAt: Date = Date(), allowNetwork: Bool = false
    ) {
        self.id = id
        self.name = name
        self.teamID = teamID
        self.createdBy = createdBy
        self.createdAt = createdAt
        self.allowNetwork = allowNetwork
    }

    enum CodingKeys: String, CodingKey {
        case id, name
        case teamID = "team_id"
        case createdBy = "created_by"
        case createdAt = "created_at"
        case allowNetwork = "allow_network"
    }
}

/// A user's role in a project.
public struct ProjectMember: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "project_members"

    /// The project.
    public var projectID: String
    /// The member.
    public var userID: String
    /// Their role.
    public var role: ProjectRole

    /// A membership.
    public init(projectID: String, userID: String, role: ProjectRole) {
        self.projectID = projectID
        self.userID = userID
        self.role = role
    }

    enum CodingKeys: String, CodingKey {
        case projectID = "project_id"
        case userID = "user_id"
        case role
    }
}
