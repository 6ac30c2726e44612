import AgentOSAPI
import AgentOSStore
import AgentOSWire
import Foundation

/// Projects, their settings and their members.
struct ProjectResource: APIResource {
    static let operations: [APIOperation] = [.listProjects, .createProject, .getProject, .deleteProject, .updateProject, .setProjectMember, .removeProjectMember]

    let context: APIContext
    let blobs: any BlobStore
    let signals: any DispatchSignals

    func respond(to request: APICall, as caller: Caller) async throws -> Reply {
        switch request.operation {
        case .listProjects: return try listProjects(caller)
        case .createProject: return try createProject(request, caller: caller)
        case .getProject: return try getProject(request, caller: caller)
        case .deleteProject: return try deleteProject(request, caller: caller)
        case .updateProject: return try updateProject(request, caller: caller)
        case .setProjectMember: return try setProjectMember(request, caller: caller)
        case .removeProjectMember: return try removeProjectMember(request, caller: caller)
        default: throw APIError.notFound("operation")
        }
    }

    // MARK: Projects

    func listProjects(_ caller: Caller) throws -> Reply {
        let projects = try store.projects(visibleTo: caller.isAdmin ? nil : caller.user.id)
        return try .ok(Schemas.ProjectList(projects: try projects.map { project in
            Schemas.Project(project, role: try store.role(of: caller.user.id, in: project.id), members: nil)
        }))
    }

    func createProject(_ request: APICall, caller: Caller) throws -> Reply {
        let body = try request.body(Schemas.CreateProjectRequest.self)
        let name = try FieldRules.name(body.name, "name")
        var teamID: String?
        if let teamName = try FieldRules.text(body.team, "team", maxLength: 64) {
            // Only a team's members may put projects in it; others cannot tell it exists.
            guard let team = try store.team(idOrName: teamName) else { throw APIError.notFound("team") }
            let teamRole = try store.teamRole(of: caller.user.id, in: team.id)
            guard caller.isAdmin || teamRole != nil else { throw APIError.notFound("team") }
            teamID = team.id
        }
        let allowNetwork = body.allowNetwork ?? false
        if allowNetwork, !caller.isAdmin { throw Self.networkIsForAdmins }
        let project = try store.createProject(name: name, owner: caller.user.id, teamID: teamID, allowNetwork: allowNetwork)
        audit("project.create", caller: caller, target: project.id, projectID: project.id,
              detail: ["name": .string(name), "allow_network": .bool(allowNetwork)], address: request.client)
        return try .created(Schemas.Project(project, role: .owner, members: try store.members(projectID: project.id)))
    }

    func getProject(_ request: APICall, caller: Caller) throws -> Reply {
        let access = try projectAccess(request.params["project"], caller: caller)
        return try .ok(Schemas.Project(access.project, role: access.role, members: try store.members(projectID: access.project.id)))
    }

    static let networkIsForAdmins = APIError(403, "forbidden", "only an admin may let a project's jobs use the network")

    /// `PATCH /projects/{p} {allow_network}`: whether jobs that ask for the network get it.
    /// An admin's decision: the network reaches past the sandbox.
    func updateProject(_ request: APICall, caller: Caller) throws -> Reply {
        let access = try projectAccess(request.params["project"], caller: caller)
        guard caller.isAdmin else { throw Self.networkIsForAdmins }
        let body = try request.body(Schemas.UpdateProjectRequest.self)
        var project = access.project
        if let allowed = body.allowNetwork, allowed != project.allowNetwork {
            guard let updated = try store.setProjectNetwork(id: project.id, allowed: allowed) else { throw APIError.notFound("project") }
            project = updated
            audit("project.network", caller: caller, target: project.id, projectID: project.id,
                  detail: ["allow_network": .bool(allowed)], address: request.client)
        }
        return try .ok(Schemas.Project(project, role: access.role, members: try store.members(projectID: project.id)))
    }

    func deleteProject(_ request: APICall, caller: Caller) throws -> Reply {
        let access = try projectAccess(request.params["project"], caller: caller)
        try access.require(.deleteProject)
        // Running jobs are stopped on their workers; their late results find no job and are dropped.
        for job in try store.jobs(projectID: access.project.id, status: .running, origin: nil, after: nil, limit: 10_000) {
            if let workerID = job.workerID { signals.jobCancelled(jobID: job.id, workerID: workerID, attempt: job.attempts) }
        }
        let (blobsRemoved, queued) = try blobs.removeProject(id: access.project.id)
        // Its queued jobs leave the dispatcher's queue, and the quotas, with it.
        for id in queued { signals.jobDequeued(jobID: id) }
        audit("project.delete", caller: caller, target: access.project.id, projectID: access.project.id,
              detail: ["name": .string(access.project.name), "blobs_removed": .number(Double(blobsRemoved))], address: request.client)
        return .noContent
    }

    func setProjectMember(_ request: APICall, caller: Caller) throws -> Reply {
        let access = try projectAccess(request.params["project"], caller: caller)
        try access.require(.manageMembers)
        let body = try request.body(Schemas.SetProjectMemberRequest.self)
        let email = try FieldRules.emailLookup(body.email, "email")
        let role = body.role
        guard let user = try store.user(email: email) else { throw APIError.notFound("user \(email)") }
        let before = try store.members(projectID: access.project.id).first { $0.0.id == user.id }?.1
        try store.setMember(projectID: access.project.id, userID: user.id, role: role)
        audit("project.member_set", caller: caller, target: user.id, projectID: access.project.id,
              detail: ["from": (before?.rawValue).map(JSONValue.string) ?? .null, "to": .string(role.rawValue)], address: request.client)
        return try .ok(Schemas.Project(access.project, role: try store.role(of: caller.user.id, in: access.project.id),
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
