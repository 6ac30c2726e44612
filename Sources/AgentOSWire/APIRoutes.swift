/// The operations the server answers on its API socket; each gateway route maps to one.
public enum APIOperation: String, Codable, Sendable, CaseIterable {
    case health
    /// The server's Prometheus metrics, for the gateway's `GET /metrics` (no route of its own).
    case metrics
    case login = "auth.login"
    case refresh = "auth.refresh"
    case logout = "auth.logout"
    case me
    case listUsers = "users.list"
    case createUser = "users.create"
    case updateUser = "users.update"
    case createToken = "tokens.create"
    case listTokens = "tokens.list"
    case deleteToken = "tokens.delete"
    case listTeams = "teams.list"
    case createTeam = "teams.create"
    case getTeam = "teams.get"
    case addTeamMember = "teams.members.add"
    case removeTeamMember = "teams.members.remove"
    case listProjects = "projects.list"
    case createProject = "projects.create"
    case getProject = "projects.get"
    case deleteProject = "projects.delete"
    case updateProject = "projects.update"
    case setProjectMember = "projects.members.set"
    case removeProjectMember = "projects.members.remove"
    case listSkills = "skills.list"
    case createSkill = "skills.create"
    case getSkill = "skills.get"
    case createSkillVersion = "skills.versions.create"
    case listSkillVersions = "skills.versions.list"
    case getSkillVersion = "skills.versions.get"
    case listProviders = "providers.list"
    case createProvider = "providers.create"
    case getProvider = "providers.get"
    case updateProvider = "providers.update"
    case revealProvider = "providers.reveal"
    case listAgents = "agents.list"
    case createAgent = "agents.create"
    case getAgent = "agents.get"
    case updateAgent = "agents.update"
    case listAgentVersions = "agents.versions.list"
    case submitJob = "jobs.submit"
    case getJob = "jobs.get"
    case getJobOutput = "jobs.output"
    case listJobs = "jobs.list"
    case cancelJob = "jobs.cancel"
    case createRuns = "runs.create"
    case listSessions = "sessions.list"
    case createSession = "sessions.create"
    case getSession = "sessions.get"
    case listMessages = "messages.list"
    case createMessage = "messages.create"
    case uploadFile = "files.upload"
    case listFiles = "files.list"
    case getFile = "files.get"
    case downloadFile = "files.content"
    case deleteFile = "files.delete"
    case listWorkers = "workers.list"
    case listWorkerTokens = "worker_tokens.list"
    case createWorkerToken = "worker_tokens.create"
    case deleteWorkerToken = "worker_tokens.delete"
    case cluster
    case audit = "audit.list"
}

/// One `/api/v1` route of the gateway and the server operation it forwards to.
public struct APIRoute: Sendable {
    /// What the route reads from the request body.
    public enum Body: Sendable {
        case none
        case json
        /// The bytes as they are (file upload).
        case raw
    }

    /// HTTP method, upper case.
    public let method: String
    /// Path with `:name` parameters.
    public let path: String
    /// The server operation.
    public let operation: APIOperation
    /// What the body is.
    public let body: Body
    /// Query parameters passed through to the server.
    public let query: [String]
    /// Group in the API document.
    public let tag: String
    /// One line for the API document.
    public let summary: String

    init(_ method: String, _ path: String, _ operation: APIOperation, body: Body = .none, query: [String] = [], tag: String, _ summary: String) {
        self.method = method
        self.path = "/api/v1" + path
        self.operation = operation
        self.body = body
        self.query = query
        self.tag = tag
        self.summary = summary
    }
}

/// Every `/api/v1` route: the single list the gateway's router, the API document and the
/// role-matrix test are built from.
public enum APIRoutes {
    public static let all: [APIRoute] = [
        APIRoute("POST", "/auth/login", .login, body: .json, tag: "auth", "Log in with email and password"),
        APIRoute("POST", "/auth/refresh", .refresh, body: .json, tag: "auth", "Exchange a refresh token for new tokens (rotation)"),
        APIRoute("POST", "/auth/logout", .logout, tag: "auth", "End the session of this access token"),
        APIRoute("GET", "/me", .me, tag: "auth", "The calling user"),

        APIRoute("GET", "/users", .listUsers, tag: "users", "List users (admin)"),
        APIRoute("POST", "/users", .createUser, body: .json, tag: "users", "Create a user (admin)"),
        APIRoute("PATCH", "/users/:user", .updateUser, body: .json, tag: "users", "Change a user's role, name, password or disabled flag (admin)"),

        APIRoute("POST", "/tokens", .createToken, body: .json, tag: "tokens", "Create a personal access token (shown once)"),
        APIRoute("GET", "/tokens", .listTokens, tag: "tokens", "List your personal access tokens"),
        APIRoute("DELETE", "/tokens/:token", .deleteToken, tag: "tokens", "Revoke a personal access token"),

        APIRoute("GET", "/teams", .listTeams, tag: "teams", "List your teams (admin: all)"),
        APIRoute("POST", "/teams", .createTeam, body: .json, tag: "teams", "Create a team; you become its owner"),
        APIRoute("GET", "/teams/:team", .getTeam, tag: "teams", "A team and its members"),
        APIRoute("POST", "/teams/:team/members", .addTeamMember, body: .json, tag: "teams", "Add or change a team member (team owner)"),
        APIRoute("DELETE", "/teams/:team/members/:user", .removeTeamMember, tag: "teams", "Remove a team member (team owner)"),

        APIRoute("GET", "/projects", .listProjects, tag: "projects", "List the projects you can see"),
        APIRoute("POST", "/projects", .createProject, body: .json, tag: "projects", "Create a project; you become its owner"),
        APIRoute("GET", "/projects/:project", .getProject, tag: "projects", "A project, its members and your role"),
        APIRoute("DELETE", "/projects/:project", .deleteProject, tag: "projects", "Delete a project and everything in it (owner)"),
        APIRoute("PATCH", "/projects/:project", .updateProject, body: .json, tag: "projects", "Change a project's settings: allow_network (admin)"),
        APIRoute("PUT", "/projects/:project/members", .setProjectMember, body: .json, tag: "projects", "Add a member or change their role (owner)"),
        APIRoute("DELETE", "/projects/:project/members/:user", .removeProjectMember, tag: "projects", "Remove a member (owner)"),

        APIRoute("GET", "/projects/:project/skills", .listSkills, query: ["updated_since"], tag: "skills", "List skills; with updated_since, only those changed since (a desktop's incremental sync)"),
        APIRoute("POST", "/projects/:project/skills", .createSkill, body: .json, tag: "skills", "Create a skill with its first version (editor)"),
        APIRoute("GET", "/projects/:project/skills/:skill", .getSkill, tag: "skills", "A skill with its latest version"),
        APIRoute("POST", "/projects/:project/skills/:skill/versions", .createSkillVersion, body: .json, tag: "skills", "Add an immutable version; identical content returns the existing one (editor)"),
        APIRoute("GET", "/projects/:project/skills/:skill/versions", .listSkillVersions, tag: "skills", "List a skill's versions"),
        APIRoute("GET", "/projects/:project/skills/:skill/versions/:version", .getSkillVersion, tag: "skills", "One version of a skill"),

        APIRoute("GET", "/projects/:project/providers", .listProviders, tag: "model config", "List model providers (no keys)"),
        APIRoute("POST", "/projects/:project/providers", .createProvider, body: .json, tag: "model config", "Add a model provider; the key is encrypted at rest (editor)"),
        APIRoute("GET", "/projects/:project/providers/:provider", .getProvider, tag: "model config", "A provider (no key)"),
        APIRoute("PUT", "/projects/:project/providers/:provider", .updateProvider, body: .json, tag: "model config", "Change a provider or its key (editor)"),
        APIRoute("POST", "/projects/:project/providers/:provider/reveal", .revealProvider, tag: "model config", "Return the provider's API key (runner; audited)"),
        APIRoute("GET", "/projects/:project/agents", .listAgents, query: ["updated_since"], tag: "model config", "List agents; with updated_since, only those changed since"),
        APIRoute("POST", "/projects/:project/agents", .createAgent, body: .json, tag: "model config", "Create an agent (editor)"),
        APIRoute("GET", "/projects/:project/agents/:agent", .getAgent, tag: "model config", "An agent"),
        APIRoute("PUT", "/projects/:project/agents/:agent", .updateAgent, body: .json, tag: "model config", "Change an agent; the old settings stay in its history (editor)"),
        APIRoute("GET", "/projects/:project/agents/:agent/versions", .listAgentVersions, tag: "model config", "An agent's history"),

        APIRoute("POST", "/projects/:project/jobs", .submitJob, body: .json, query: ["wait"], tag: "jobs", "Submit a job (runner)"),
        APIRoute("GET", "/projects/:project/jobs", .listJobs, query: ["status", "origin", "skill", "session_id", "limit", "cursor"], tag: "jobs", "List a project's jobs and run records, newest first"),
        APIRoute("GET", "/jobs/:id", .getJob, query: ["wait"], tag: "jobs", "A job; with ?wait=SECONDS, once it ends or the wait is over"),
        APIRoute("GET", "/jobs/:id/output", .getJobOutput, query: ["attempt", "stdout_offset", "stderr_offset", "status", "wait"], tag: "jobs",
                 "A job and its output after the given offsets; with ?wait=SECONDS, as soon as there is more output, another status or attempt, or the wait is over"),
        APIRoute("POST", "/jobs/:id/cancel", .cancelJob, tag: "jobs", "Cancel a job (runner: own jobs; editor: any)"),
        APIRoute("POST", "/projects/:project/runs", .createRuns, body: .json, tag: "jobs", "Record runs a desktop made locally (runner); idempotent by their id"),

        APIRoute("GET", "/projects/:project/sessions", .listSessions, query: ["limit"], tag: "sessions", "List chat sessions"),
        APIRoute("POST", "/projects/:project/sessions", .createSession, body: .json, tag: "sessions", "Create a chat session (runner)"),
        APIRoute("GET", "/sessions/:session", .getSession, tag: "sessions", "A chat session"),
        APIRoute("GET", "/sessions/:session/messages", .listMessages, query: ["after", "limit"], tag: "sessions", "A session's messages in order, paged"),
        APIRoute("POST", "/sessions/:session/messages", .createMessage, body: .json, tag: "sessions", "Append a message (runner)"),

        APIRoute("POST", "/projects/:project/files", .uploadFile, body: .raw, query: ["name"], tag: "files", "Upload a file: the raw body (editor)"),
        APIRoute("GET", "/projects/:project/files", .listFiles, query: ["limit", "cursor"], tag: "files", "List files"),
        APIRoute("GET", "/files/:file", .getFile, tag: "files", "A file's metadata"),
        APIRoute("GET", "/files/:file/content", .downloadFile, tag: "files", "A file's bytes"),
        APIRoute("DELETE", "/files/:file", .deleteFile, tag: "files", "Delete a file (editor)"),

        APIRoute("GET", "/workers", .listWorkers, query: ["limit", "cursor"], tag: "workers", "Connected workers (admin: all; others: a cloud summary and their own private workers)"),
        APIRoute("GET", "/worker-tokens", .listWorkerTokens, tag: "workers", "List worker tokens (admin)"),
        APIRoute("POST", "/worker-tokens", .createWorkerToken, body: .json, tag: "workers", "Create a worker token, shown once (admin)"),
        APIRoute("DELETE", "/worker-tokens/:token", .deleteWorkerToken, tag: "workers", "Revoke a worker token and disconnect its workers (admin)"),
        APIRoute("GET", "/cluster", .cluster, tag: "cluster", "Bus endpoints for desktops"),
        APIRoute("GET", "/audit", .audit, query: ["action", "limit", "cursor"], tag: "audit", "The audit log, newest first (admin)"),
    ]
}

extension APIRoutes {
    private static let bodies: [APIOperation: APIRoute.Body] = Dictionary(
        all.map { ($0.operation, $0.body) }, uniquingKeysWith: { first, _ in first })

    /// What the route of `operation` reads from the request body (`.none` for operations without a route).
    public static func bodyKind(of operation: APIOperation) -> APIRoute.Body {
        bodies[operation] ?? .none
    }
}
