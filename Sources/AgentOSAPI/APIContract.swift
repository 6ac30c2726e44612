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

    /// Whether `status` with a body of `type` is a documented success of the operation.
    public func allows(status: Int, body type: (any APIBody.Type)?) -> Bool {
        responses.contains { $0.status == status && $0.body.map(ObjectIdentifier.init) == type.map(ObjectIdentifier.init) }
    }
}

/// A type that is a whole request or response body.
public typealias APIBody = Decodable & Encodable & Sendable

extension APIOperation {
    /// This operation's request and response types.
    public var contract: OperationContract {
        switch self {
        case .health: OperationContract(nil, (200, Health.self))
        case .login: OperationContract(LoginRequest.self, (200, TokenPair.self))
        case .refresh: OperationContract(RefreshRequest.self, (200, TokenPair.self))
        case .logout: OperationContract(nil, (204, nil))
        case .me: OperationContract(nil, (200, User.self))
        case .listUsers: OperationContract(nil, (200, UserList.self))
        case .createUser: OperationContract(CreateUserRequest.self, (201, User.self))
        case .updateUser: OperationContract(UpdateUserRequest.self, (200, User.self))
        case .createToken: OperationContract(CreateTokenRequest.self, (201, PersonalToken.self))
        case .listTokens: OperationContract(nil, (200, PersonalTokenList.self))
        case .deleteToken, .removeTeamMember, .deleteProject, .removeProjectMember, .deleteFile, .deleteWorkerToken:
            OperationContract(nil, (204, nil))
        case .listTeams: OperationContract(nil, (200, TeamList.self))
        case .createTeam: OperationContract(CreateTeamRequest.self, (201, Team.self))
        case .getTeam: OperationContract(nil, (200, Team.self))
        case .addTeamMember: OperationContract(AddTeamMemberRequest.self, (200, Team.self))
        case .listProjects: OperationContract(nil, (200, ProjectList.self))
        case .createProject: OperationContract(CreateProjectRequest.self, (201, Project.self))
        case .getProject: OperationContract(nil, (200, Project.self))
        case .updateProject: OperationContract(UpdateProjectRequest.self, (200, Project.self))
        case .setProjectMember: OperationContract(SetProjectMemberRequest.self, (200, Project.self))
        case .listSkills: OperationContract(nil, (200, SkillList.self))
        case .createSkill: OperationContract(SkillInput.self, (201, Skill.self))
        case .getSkill: OperationContract(nil, (200, Skill.self))
        case .createSkillVersion: OperationContract(SkillInput.self, (201, SkillVersion.self), (200, SkillVersion.self))
        case .listSkillVersions: OperationContract(nil, (200, SkillVersionList.self))
        case .getSkillVersion: OperationContract(nil, (200, SkillVersion.self))
        case .listProviders: OperationContract(nil, (200, ProviderList.self))
        case .createProvider: OperationContract(CreateProviderRequest.self, (201, Provider.self))
        case .getProvider: OperationContract(nil, (200, Provider.self))
        case .updateProvider: OperationContract(UpdateProviderRequest.self, (200, Provider.self))
        case .revealProvider: OperationContract(nil, (200, RevealedProvider.self))
        case .listAgents: OperationContract(nil, (200, AgentList.self))
        case .createAgent: OperationContract(AgentInput.self, (201, Agent.self))
        case .getAgent: OperationContract(nil, (200, Agent.self))
        case .updateAgent: OperationContract(AgentInput.self, (200, Agent.self))
        case .listAgentVersions: OperationContract(nil, (200, AgentVersionList.self))
        case .submitJob: OperationContract(JobSubmit.self, (202, Job.self), (200, Job.self))
        case .getJob, .cancelJob: OperationContract(nil, (200, Job.self))
        case .listJobs: OperationContract(nil, (200, JobList.self))
        case .createRuns: OperationContract(RunsRequest.self, (200, RunReceipts.self))
        case .listSessions: OperationContract(nil, (200, SessionList.self))
        case .createSession: OperationContract(CreateSessionRequest.self, (201, Session.self))
        case .getSession: OperationContract(nil, (200, Session.self))
        case .listMessages: OperationContract(nil, (200, MessageList.self))
        case .createMessage: OperationContract(CreateMessageRequest.self, (201, Message.self))
        case .uploadFile: OperationContract(nil, (201, File.self))
        case .listFiles: OperationContract(nil, (200, FileList.self))
        case .getFile: OperationContract(nil, (200, File.self))
        case .downloadFile: OperationContract(nil, (200, nil))
        case .listWorkers: OperationContract(nil, (200, WorkerList.self))
        case .listWorkerTokens: OperationContract(nil, (200, WorkerTokenList.self))
        case .createWorkerToken: OperationContract(CreateWorkerTokenRequest.self, (201, WorkerToken.self))
        case .cluster: OperationContract(nil, (200, Cluster.self))
        case .audit: OperationContract(nil, (200, AuditList.self))
        }
    }

    /// The error statuses this operation may answer, besides its successes.
    public var errorStatuses: [Int] {
        guard let route = APIRoutes.all.first(where: { $0.operation == self }) else { return [400, 503] }
        var statuses = [400, 503]
        if ![.login, .refresh].contains(self) { statuses += [401, 403] }
        if route.path.contains(":") { statuses.append(404) }
        if route.method != "GET" { statuses.append(409) }
        if route.body != .none { statuses.append(413) }
        if self == .login { statuses.append(429) }
        if self == .downloadFile { statuses.append(410) }
        return statuses
    }
}
