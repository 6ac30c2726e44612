import AgentOSWire
import Foundation

extension Schemas {
    /// A member of a team or project and their role there.
    public struct Member: APISchema, Equatable {
        public var userID: String
        public var email: String
        public var name: String
        public var role: String

        public init(
            userID: String, email: String, name: String, role: String
        ) {
            self.userID = userID
            self.email = email
            self.name = name
            self.role = role
        }

        enum CodingKeys: String, CodingKey {
            case userID = "user_id"
            case email
            case name
            case role
        }
    }

    /// A team; `role` is the caller's, `members` only in a single-team answer.
    public struct Team: APISchema, Equatable {
        public var id: String
        public var name: String
        @Nullable public var role: TeamRole?
        public var createdBy: String
        public var createdAt: Date
        public var members: [Member]?

        public init(
            id: String, name: String, role: TeamRole? = nil, createdBy: String, createdAt: Date, members: [Member]? = nil
        ) {
            self.id = id
            self.name = name
            self.role = role
            self.createdBy = createdBy
            self.createdAt = createdAt
            self.members = members
        }

        enum CodingKeys: String, CodingKey {
            case id
            case name
            case role
            case createdBy = "created_by"
            case createdAt = "created_at"
            case members
        }
    }

    /// `GET /teams`.
    public struct TeamList: APISchema, Equatable {
        public var teams: [Team]

        public init(
            teams: [Team]
        ) {
            self.teams = teams
        }
    }

    /// `POST /teams`.
    public struct CreateTeamRequest: APISchema, Equatable {
        public var name: String

        public init(
            name: String
        ) {
            self.name = name
        }
    }

    /// `POST /teams/{team}/members`: the role defaults to `member`.
    public struct AddTeamMemberRequest: APISchema, Equatable {
        public var email: String
        public var role: TeamRole?

        public init(
            email: String, role: TeamRole? = nil
        ) {
            self.email = email
            self.role = role
        }
    }

    /// A project; `role` is the caller's, `members` only in a single-project answer.
    public struct Project: APISchema, Equatable {
        public var id: String
        public var name: String
        @Nullable public var teamID: String?
        @Nullable public var role: ProjectRole?
        public var createdBy: String
        public var createdAt: Date
        public var allowNetwork: Bool
        public var members: [Member]?

        public init(
            id: String, name: String, teamID: String? = nil, role: ProjectRole? = nil, createdBy: String,
            createdAt: Date, allowNetwork: Bool, members: [Member]? = nil
        ) {
            self.id = id
            self.name = name
            self.teamID = teamID
            self.role = role
            self.createdBy = createdBy
            self.createdAt = createdAt
            self.allowNetwork = allowNetwork
            self.members = members
        }

        enum CodingKeys: String, CodingKey {
            case id
            case name
            case teamID = "team_id"
            case role
            case createdBy = "created_by"
            case createdAt = "created_at"
            case allowNetwork = "allow_network"
            case members
        }
    }

    /// `GET /projects`.
    public struct ProjectList: APISchema, Equatable {
        public var projects: [Project]

        public init(
            projects: [Project]
        ) {
            self.projects = projects
        }
    }

    /// `POST /projects`: in a team (by id or name) or the caller's own.
    public struct CreateProjectRequest: APISchema, Equatable {
        public var name: String
        public var team: String?
        public var allowNetwork: Bool?

        public init(
            name: String, team: String? = nil, allowNetwork: Bool? = nil
        ) {
            self.name = name
            self.team = team
            self.allowNetwork = allowNetwork
        }

        enum CodingKeys: String, CodingKey {
            case name
            case team
            case allowNetwork = "allow_network"
        }
    }

    /// `PATCH /projects/{project}`.
    public struct UpdateProjectRequest: APISchema, Equatable {
        public var allowNetwork: Bool?

        public init(
            allowNetwork: Bool? = nil
        ) {
            self.allowNetwork = allowNetwork
        }

        enum CodingKeys: String, CodingKey {
            case allowNetwork = "allow_network"
        }
    }

    /// `PUT /projects/{project}/members`.
    public struct SetProjectMemberRequest: APISchema, Equatable {
        public var email: String
        public var role: ProjectRole

        public init(
            email: String, role: ProjectRole
        ) {
            self.email = email
            self.role = role
        }
    }
}
