import AgentOSWire

/// What one operation takes and gives: the type of its JSON request body, and the type of
/// the body of each success status. The one table of the API's shapes: the server's
/// handlers decode and answer these types (and check it), the API document is derived from
/// them, and the clients read them.
public struct OperationContract: Sendable {
    /// The request body's type (nil: the operation takes no JSON body).
    public let request: (any APIBody.Type)?
    /// Each success status and the type of its body (nil: no body, or raw bytes).
    public let responses: [(status: Int, body: (any APIBody.Type)?)]

    init(_ request: (any APIBody.Type)? = nil, _ responses: (Int, (any APIBody.Type)?)...) {
        self.request = request
        self.responses = responses.map { (status: $0.0, body: $0.1) }
    }

    /// Whether `status` with a body of the type identified by `type` (nil: no JSON body) is a
    /// documented success of the operation.
    public func allows(status: Int, body type: ObjectIdentifier?) -> Bool {
        responses.contains { $0.status == status && $0.body.map(ObjectIdentifier.init) == type }
    }
}

/// A type that is a whole request or response body.
public typealias APIBody = Decodable & Encodable & Sendable

extension APIOperation {
    /// This operation's request and response types.
    public var contract: OperationContract {
        switch self {
        case .health: OperationContract(nil, (200, Schemas.Health.self))
        case .metrics: OperationContract(nil, (200, nil))
        case .login: OperationContract(Schemas.LoginRequest.self, (200, Schemas.TokenPair.self))
        case .refresh: OperationContract(Schemas.RefreshRequest.self, (200, Schemas.TokenPair.self))
        case .logout: OperationContract(nil, (204, nil))
        case .me: OperationContract(nil, (200, Schemas.User.self))
        case .listUsers: OperationContract(nil, (200, Schemas.UserList.self))
        case .createUser: OperationContract(Schemas.CreateUserRequest.self, (201, Schemas.User.self))
        case .updateUser: OperationContract(Schemas.UpdateUserRequest.self, (200, Schemas.User.self))
        case .createToken: OperationContract(Schemas.CreateTokenRequest.self, (201, Schemas.PersonalToken.self))
        case .listTokens: OperationContract(nil, (200, Schemas.PersonalTokenList.self))
        case .deleteToken, .removeTeamMember, .deleteProject, .removeProjectMember, .deleteFile, .deleteWorkerToken:
            OperationContract(nil, (204, nil))
        case .listTeams: OperationContract(nil, (200, Schemas.TeamList.self))
        case .createTeam: OperationContract(Schemas.CreateTeamRequest.self, (201, Schemas.Team.self))
        case .getTeam: OperationContract(nil, (200, Schemas.Team.self))
        case .addTeamMember: OperationContract(Schemas.AddTeamMemberRequest.self, (200, Schemas.Team.self))
        case .listProjects: OperationContract(nil, (200, Schemas.ProjectList.self))
        case .createProject: OperationContract(Schemas.CreateProjectRequest.self, (201, Schemas.Project.self))
        case .getProject: OperationContract(nil, (200, Schemas.Project.self))
        case .updateProject: OperationContract(Schemas.UpdateProjectRequest.self, (200, Schemas.Project.self))
        case .setProjectMember: OperationContract(Schemas.SetProjectMemberRequest.self, (200, Schemas.Project.self))
        case .listSkills: OperationContract(nil, (200, Schemas.SkillList.self))
        case .createSkill: OperationContract(Schemas.SkillInput.self, (201, Schemas.Skill.self))
        case .getSkill: OperationContract(nil, (200, Schemas.Skill.self))
        case .createSkillVersion: OperationContract(Schemas.SkillInput.self, (201, Schemas.SkillVersion.self), (200, Schemas.SkillVersion.self))
        case .listSkillVersions: OperationContract(nil, (200, Schemas.SkillVersionList.self))
        case .getSkillVersion: OperationContract(nil, (200, Schemas.SkillVersion.self))
        case .listProviders: OperationContract(nil, (200, Schemas.ProviderList.self))
        case .createProvider: OperationContract(Schemas.CreateProviderRequest.self, (201, Schemas.Provider.self))
        case .getProvider: OperationContract(nil, (200, Schemas.Provider.self))
        case .updateProvider: OperationContract(Schemas.UpdateProviderRequest.self, (200, Schemas.Provider.self))
        case .revealProvider: OperationContract(nil, (200, Schemas.RevealedProvider.self))
        case .listAgents: OperationContract(nil, (200, Schemas.AgentList.self))
        case .createAgent: OperationContract(Schemas.AgentInput.self, (201, Schemas.Agent.self))
        case .getAgent: OperationContract(nil, (200, Schemas.Agent.self))
        case .updateAgent: OperationContract(Schemas.AgentInput.self, (200, Schemas.Agent.self))
        case .listAgentVersions: OperationContract(nil, (200, Schemas.AgentVersionList.self))
        case .submitJob: OperationContract(Schemas.JobSubmit.self, (202, Schemas.Job.self), (200, Schemas.Job.self))
        case .getJob, .cancelJob: OperationContract(nil, (200, Schemas.Job.self))
        case .getJobOutput: OperationContract(nil, (200, Schemas.JobOutputPage.self))
        case .listJobs: OperationContract(nil, (200, Schemas.JobList.self))
        case .createRuns: OperationContract(Schemas.RunsRequest.self, (200, Schemas.RunReceipts.self))
        case .listSessions: OperationContract(nil, (200, Schemas.SessionList.self))
        case .createSession: OperationContract(Schemas.CreateSessionRequest.self, (201, Schemas.Session.self))
        case .getSession: OperationContract(nil, (200, Schemas.Session.self))
        case .listMessages: OperationContract(nil, (200, Schemas.MessageList.self))
        case .createMessage: OperationContract(Schemas.CreateMessageRequest.self, (201, Schemas.Message.self))
        case .uploadFile: OperationContract(nil, (201, Schemas.File.self))
        case .listFiles: OperationContract(nil, (200, Schemas.FileList.self))
        case .getFile: OperationContract(nil, (200, Schemas.File.self))
        case .downloadFile: OperationContract(nil, (200, nil))
        case .listWorkers: OperationContract(nil, (200, Schemas.WorkerList.self))
        case .listWorkerTokens: OperationContract(nil, (200, Schemas.WorkerTokenList.self))
        case .createWorkerToken: OperationContract(Schemas.CreateWorkerTokenRequest.self, (201, Schemas.WorkerToken.self))
        case .cluster: OperationContract(nil, (200, Schemas.Cluster.self))
        case .audit: OperationContract(nil, (200, Schemas.AuditList.self))
        }
    }

    /// What the gateway's connection handling may answer to any request, before or instead of
    /// its route: a request that is not HTTP/1.1 (400), a head or body too slow (408), a head
    /// over the limits (431), too many connections (503).
    public static let connectionErrorStatuses = [400, 408, 431, 503]

    /// The error statuses this operation may answer, besides its successes.
    public var errorStatuses: [Int] {
        guard let route = APIRoutes.all.first(where: { $0.operation == self }) else { return Self.connectionErrorStatuses }
        // Login and refresh answer 401 for wrong credentials, every other operation for a
        // missing or expired token.
        var statuses = Self.connectionErrorStatuses + [401]
        if ![.login, .refresh].contains(self) { statuses.append(403) }
        // A path names a resource, and a new project names its team.
        if route.path.contains(":") || self == .createProject { statuses.append(404) }
        // Writes conflict with the state (a name taken, a job already ended, the last owner);
        // reading a provider's key conflicts with a key the server can no longer decrypt.
        if route.method != "GET" || self == .revealProvider { statuses.append(409) }
        if route.body != .none { statuses.append(413) }
        // Failed logins are slowed; submits are limited per user and project.
        if self == .login || self == .submitJob { statuses.append(429) }
        if self == .downloadFile { statuses.append(410) }
        return statuses
    }
}
