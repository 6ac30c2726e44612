import AgentOSAPI
import AgentOSStore
import AgentOSWire
import Foundation

/// Teams and their members.
struct TeamResource: APIResource {
    static let operations: [APIOperation] = [.listTeams, .createTeam, .getTeam, .addTeamMember, .removeTeamMember]

    let context: APIContext

    func respond(to request: APICall, as caller: Caller) async throws -> Reply {
        switch request.operation {
        case .listTeams: return try listTeams(caller)
        case .createTeam: return try createTeam(request, caller: caller)
        case .getTeam: return try getTeam(request, caller: caller)
        case .addTeamMember: return try addTeamMember(request, caller: caller)
        case .removeTeamMember: return try removeTeamMember(request, caller: caller)
        default: throw APIError.notFound("operation")
        }
    }

    // MARK: Teams

    func listTeams(_ caller: Caller) throws -> Reply {
        let teams = try store.teams(memberID: caller.isAdmin ? nil : caller.user.id)
        return try .ok(Schemas.TeamList(teams: try teams.map { team in
            Schemas.Team(team, role: try store.teamRole(of: caller.user.id, in: team.id), members: nil)
        }))
    }

    func createTeam(_ request: APICall, caller: Caller) throws -> Reply {
        let name = try FieldRules.name(try request.body(Schemas.CreateTeamRequest.self).name, "name")
        let team = try store.createTeam(name: name, owner: caller.user.id)
        audit("team.create", caller: caller, target: team.id, detail: ["name": .string(name)], address: request.client)
        return try .created(Schemas.Team(team, role: .owner, members: try store.teamMembers(teamID: team.id)))
    }

    /// The team and the caller's role in it; 404 unless they are in it (or admin).
    private func visibleTeam(_ idOrName: String?, caller: Caller) throws -> (Team, TeamRole?) {
        guard let idOrName, let team = try store.team(idOrName: idOrName) else { throw APIError.notFound("team") }
        let role = try store.teamRole(of: caller.user.id, in: team.id)
        guard caller.isAdmin || role != nil else { throw APIError.notFound("team") }
        return (team, role)
    }

    func getTeam(_ request: APICall, caller: Caller) throws -> Reply {
        let (team, role) = try visibleTeam(request.params["team"], caller: caller)
        return try .ok(Schemas.Team(team, role: role, members: try store.teamMembers(teamID: team.id)))
    }

    private func requireTeamOwner(_ team: Team, role: TeamRole?, caller: Caller) throws(APIError) {
        guard caller.isAdmin || role == .owner else { throw APIError.forbidden("managing team \(team.name) needs its owner role") }
    }

    func addTeamMember(_ request: APICall, caller: Caller) throws -> Reply {
        let (team, role) = try visibleTeam(request.params["team"], caller: caller)
        try requireTeamOwner(team, role: role, caller: caller)
        let body = try request.body(Schemas.AddTeamMemberRequest.self)
        let email = try FieldRules.emailLookup(body.email, "email")
        let newRole = body.role ?? .member
        guard let user = try store.user(email: email) else { throw APIError.notFound("user \(email)") }
        let before = try store.teamRole(of: user.id, in: team.id)
        try store.setTeamMember(teamID: team.id, userID: user.id, role: newRole)
        audit("team.member_set", caller: caller, target: user.id,
              detail: ["team": .string(team.id), "from": (before?.rawValue).map(JSONValue.string) ?? .null, "to": .string(newRole.rawValue)],
              address: request.client)
        return try .ok(Schemas.Team(team, role: role, members: try store.teamMembers(teamID: team.id)))
    }

    func removeTeamMember(_ request: APICall, caller: Caller) throws -> Reply {
        let (team, role) = try visibleTeam(request.params["team"], caller: caller)
        try requireTeamOwner(team, role: role, caller: caller)
        guard let userID = request.params["user"], try store.removeTeamMember(teamID: team.id, userID: userID) else {
            throw APIError.notFound("team member")
        }
        audit("team.member_remove", caller: caller, target: userID, detail: ["team": .string(team.id)], address: request.client)
        return .noContent
    }

}
