import AgentOSStore
import AgentOSWire
import Foundation

extension APIHandler {
    // MARK: Teams

    func listTeams(_ caller: Caller) throws -> Reply {
        let teams = try store.teams(memberID: caller.isAdmin ? nil : caller.user.id)
        return .ok(["teams": .array(try teams.map { team in
            Representation.team(team, role: try store.teamRole(of: caller.user.id, in: team.id), members: nil)
        })])
    }

    func createTeam(_ request: APICall, caller: Caller) throws -> Reply {
        let reader = try BodyReader(request.body)
        let name = try reader.name("name") ?? ""
        let team = try store.createTeam(name: name, owner: caller.user.id)
        audit("team.create", caller: caller, target: team.id, detail: ["name": .string(name)], address: request.client)
        return .created(Representation.team(team, role: .owner, members: try store.teamMembers(teamID: team.id)))
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
        return .ok(Representation.team(team, role: role, members: try store.teamMembers(teamID: team.id)))
    }

    private func requireTeamOwner(_ team: Team, role: TeamRole?, caller: Caller) throws(APIError) {
        guard caller.isAdmin || role == .owner else { throw APIError.forbidden("managing team \(team.name) needs its owner role") }
    }

    func addTeamMember(_ request: APICall, caller: Caller) throws -> Reply {
        let (team, role) = try visibleTeam(request.params["team"], caller: caller)
        try requireTeamOwner(team, role: role, caller: caller)
        let reader = try BodyReader(request.body)
        let email = try reader.string("email", maxLength: 320, required: true) ?? ""
        let newRole = try reader.choice("role", TeamRole.self) ?? .member
        guard let user = try store.user(email: email) else { throw APIError.notFound("user \(email)") }
        let before = try store.teamRole(of: user.id, in: team.id)
        try store.setTeamMember(teamID: team.id, userID: user.id, role: newRole)
        audit("team.member_set", caller: caller, target: user.id,
              detail: ["team": .string(team.id), "from": Representation.optional(before?.rawValue), "to": .string(newRole.rawValue)],
              address: request.client)
        return .ok(Representation.team(team, role: role, members: try store.teamMembers(teamID: team.id)))
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

    // MARK: Projects

    func listProjects(_ caller: Caller) throws -> Reply {
        let projects = try store.projects(visibleTo: caller.isAdmin ? nil : caller.user.id)
        return .ok(["projects": .array(try projects.map { project in
            Representation.project(project, role: try store.role(of: caller.user.id, in: project.id), members: nil)
        })])
    }

    func createProject(_ request: APICall, caller: Caller) throws -> Reply {
        let reader = try BodyReader(request.body)
        let name = try reader.name("name") ?? ""
        var teamID: String?
        if let teamName = try reader.string("team", maxLength: 64) {
            // Only a team's members may put projects in it; others cannot tell it exists.
            guard let team = try store.team(idOrName: teamName) else { throw APIError.notFound("team") }
            let teamRole = try store.teamRole(of: caller.user.id, in: team.id)
            guard caller.isAdmin || teamRole != nil else { throw APIError.notFound("team") }
            teamID = team.id
        }
        let allowNetwork = try reader.bool("allow_network") ?? false
        if allowNetwork, !caller.isAdmin { throw Self.networkIsForAdmins }
        let project = try store.createProject(name: name, owner: caller.user.id, teamID: teamID, allowNetwork: allowNetwork)
        audit("project.create", caller: caller, target: project.id, projectID: project.id,
              detail: ["name": .string(name), "allow_network": .bool(allowNetwork)], address: request.client)
        return .created(Representation.project(project, role: .owner, members: try store.members(projectID: project.id)))
    }

    func getProject(_ request: APICall, caller: Caller) throws -> Reply {
        let access = try projectAccess(request.params["project"], caller: caller)
        return .ok(Representation.project(access.project, role: access.role, members: try store.members(projectID: access.project.id)))
    }

    static let networkIsForAdmins = APIError(403, "forbidden", "only an admin may let a project's jobs use the network")

    /// `PATCH /projects/{p} {allow_network}`: whether jobs that ask for the network get it.
    /// An admin's decision: the network reaches past the sandbox.
    func updateProject(_ request: APICall, caller: Caller) throws -> Reply {
        let access = try projectAccess(request.params["project"], caller: caller)
        guard caller.isAdmin else { throw Self.networkIsForAdmins }
        let reader = try BodyReader(request.body)
        var project = access.project
        if let allowed = try reader.bool("allow_network"), allowed != project.allowNetwork {
            guard let updated = try store.setProjectNetwork(id: project.id, allowed: allowed) else { throw APIError.notFound("project") }
            project = updated
            audit("project.network", caller: caller, target: project.id, projectID: project.id,
                  detail: ["allow_network": .bool(allowed)], address: request.client)
        }
        return .ok(Representation.project(project, role: access.role, members: try store.members(projectID: project.id)))
    }

    func deleteProject(_ request: APICall, caller: Caller) throws -> Reply {
        let access = try projectAccess(request.params["project"], caller: caller)
        try access.require(.deleteProject)
        // Running jobs are stopped on their workers; their late results find no job and are dropped.
        for job in try store.jobs(projectID: access.project.id, status: .running, origin: nil, after: nil, limit: 10_000) {
            if let workerID = job.workerID { busEvents(.jobCancelled(jobID: job.id, workerID: workerID, attempt: job.attempts)) }
        }
        let orphans = try blobs.exclusive {
            let orphans = try store.deleteProject(id: access.project.id)
            for hash in orphans where try !store.blobInUse(hash) { blobs.remove(hash) }
            return orphans
        }
        audit("project.delete", caller: caller, target: access.project.id, projectID: access.project.id,
              detail: ["name": .string(access.project.name), "blobs_removed": .number(Double(orphans.count))], address: request.client)
        return .noContent
    }

    func setProjectMember(_ request: APICall, caller: Caller) throws -> Reply {
        let access = try projectAccess(request.params["project"], caller: caller)
        try access.require(.manageMembers)
        let reader = try BodyReader(request.body)
        let email = try reader.string("email", maxLength: 320, required: true) ?? ""
        guard let role = try reader.choice("role", ProjectRole.self, required: true) else { throw APIError.invalid("role is required") }
        guard let user = try store.user(email: email) else { throw APIError.notFound("user \(email)") }
        let before = try store.members(projectID: access.project.id).first { $0.0.id == user.id }?.1
        try store.setMember(projectID: access.project.id, userID: user.id, role: role)
        audit("project.member_set", caller: caller, target: user.id, projectID: access.project.id,
              detail: ["from": Representation.optional(before?.rawValue), "to": .string(role.rawValue)], address: request.client)
        return .ok(Representation.project(access.project, role: try store.role(of: caller.user.id, in: access.project.id),
                                          members: try store.members(projectID: access.project.id)))
    }

    func removeProjectMember(_ request: APICall, caller: Caller) throws -> Reply {
        let access = try projectAccess(request.params["project"], caller: caller)
        try access.require(.manageMembers)
        guard let userID = request.params["user"], try store.removeMember(projectID: access.project.id, userID: userID) else {
            throw APIError.notFound("project member")
        }
        audit("project.member_remove", caller: caller, target: userID, projectID: access.project.id, address: request.client)
        return .noContent
    }
}
