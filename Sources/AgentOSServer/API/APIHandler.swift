import AgentOSAuth
import AgentOSStore
import AgentOSWire
import Foundation
import Logging
import Synchronization

/// What a handler answers: a status with a JSON body, or raw bytes (file downloads).
struct Reply: Sendable {
    var status: Int
    var body: JSONValue
    var raw: Data? = nil
    var headers: [String: String] = [:]

    static func ok(_ body: JSONValue) -> Reply { Reply(status: 200, body: body) }
    static func created(_ body: JSONValue) -> Reply { Reply(status: 201, body: body) }
    static let noContent = Reply(status: 204, body: .null)
}

/// One request as the handlers see it: the envelope, with a JSON route's body parsed.
struct APICall: Sendable {
    /// The request as it came off the socket.
    let request: APIRequest
    /// The parsed body of a JSON route (nil for other routes).
    let body: JSONValue?

    var operation: APIOperation { request.operation }
    var token: String? { request.token }
    var params: [String: String] { request.params }
    var client: String? { request.client }
    var contentType: String? { request.contentType }
    /// The bytes of an upload.
    var raw: Data { request.body }

    /// Parses the body of a JSON route, in the handler's task rather than on the socket's thread.
    init(_ request: APIRequest) throws(APIError) {
        self.request = request
        guard APIRoutes.bodyKind(of: request.operation) == .json else {
            body = nil
            return
        }
        do {
            body = try JSONValue.parse(request.body)
        } catch {
            throw APIError.invalid("the request body is not valid JSON")
        }
    }
}

/// Answers the operations gateways forward: authenticates the caller, checks their rights
/// against the permission table, and reads or writes the store. Runs on Swift concurrency,
/// off the socket threads.
public struct APIHandler: Sendable {
    /// What `GET /cluster` tells desktops.
    public struct ClusterInfo: Sendable {
        /// Bus endpoints workers connect to.
        public var busEndpoints: [String]
        /// The server's CURVE public key, when the bus is encrypted.
        public var curvePublicKey: String?
        /// Heartbeat interval in milliseconds.
        public var heartbeatMS: Int
    }

    /// Limits on what clients may store.
    public struct Limits: Sendable {
        /// Largest file upload.
        public var maxFileBytes = 32 << 20
        /// How long a login session (its refresh tokens) lasts.
        public var sessionLifetime: TimeInterval = 30 * 86_400
        /// Failed-login limits.
        public var login = LoginThrottle.Limits()

        /// The defaults.
        public init() {}
    }

    let store: AppStore
    let tokens: AccessTokens
    let passwords: Passwords
    let authenticator: Authenticator
    let throttle: LoginThrottle
    let secrets: SecretBox
    let blobs: BlobStore
    let watch: JobWatch
    let directory: WorkerDirectory
    let cluster: ClusterInfo
    let limits: Limits
    let busEvents: @Sendable (BusLoop.Event) -> Void
    let logger: Logger

    init(
        store: AppStore, tokens: AccessTokens, fileTokens: JobFileTokens, passwords: Passwords, secrets: SecretBox,
        blobs: BlobStore, watch: JobWatch, directory: WorkerDirectory, cluster: ClusterInfo, limits: Limits,
        busEvents: @escaping @Sendable (BusLoop.Event) -> Void, logger: Logger
    ) {
        self.store = store
        self.tokens = tokens
        self.passwords = passwords
        self.authenticator = Authenticator(store: store, tokens: tokens, fileTokens: fileTokens)
        self.throttle = LoginThrottle(limits: limits.login)
        self.secrets = secrets
        self.blobs = blobs
        self.watch = watch
        self.directory = directory
        self.cluster = cluster
        self.limits = limits
        self.busEvents = busEvents
        self.logger = logger
    }

    /// Longest `?wait=` a request may ask for, in seconds.
    public static let maxWaitSeconds = 300.0

    /// Handles one request; every failure becomes an error response, never a crash.
    public func handle(_ request: APIRequest) async -> APIResponse {
        do {
            let reply = try await route(try APICall(request))
            if reply.status == 204 { return APIResponse(id: request.id, status: 204, headers: reply.headers) }
            if let raw = reply.raw {
                var headers = reply.headers
                if headers["Content-Type"] == nil { headers["Content-Type"] = "application/octet-stream" }
                return APIResponse(id: request.id, status: reply.status, headers: headers, body: raw)
            }
            return .json(id: request.id, status: reply.status, reply.body, headers: reply.headers)
        } catch let error as APIError {
            var fields: [String: JSONValue] = ["code": .string(error.code), "message": .string(error.message)]
            fields.merge(error.details) { current, _ in current }
            return .json(id: request.id, status: error.status, ["error": .object(fields)], headers: error.headers)
        } catch StoreError.conflict(let message) {
            return .error(id: request.id, status: 409, code: "conflict", message: message)
        } catch StoreError.notFound(let what) {
            return .error(id: request.id, status: 404, code: "not_found", message: "\(what) not found")
        } catch {
            logger.error("request failed", metadata: ["op": "\(request.operation.rawValue)", "error": "\(error)"])
            return .error(id: request.id, status: 503, code: "unavailable", message: "the server could not complete the request; try again")
        }
    }

    private func route(_ request: APICall) async throws -> Reply {
        switch request.operation {
        case .health:
            return .ok(["status": "ok", "server_version": .string(AgentOSVersion.current), "workers": .number(Double(directory.workers.count))])
        case .login: return try await login(request)
        case .refresh: return try await refresh(request)
        case .downloadFile:
            // Workers fetch job files with a job-scoped token; everyone else with their own.
            if let grant = try authenticator.fileGrant(request.token) { return try downloadFile(request, grant: grant) }
            return try downloadFile(request, caller: try await authenticate(request))
        default:
            break
        }
        let caller = try await authenticate(request)
        switch request.operation {
        case .health, .login, .refresh, .downloadFile: throw APIError.notFound("operation")
        case .logout: return try logout(caller)
        case .me: return .ok(Representation.user(caller.user))
        case .listUsers: return try listUsers(caller)
        case .createUser: return try await createUser(request, caller: caller)
        case .updateUser: return try await updateUser(request, caller: caller)
        case .createToken: return try createToken(request, caller: caller)
        case .listTokens: return try listTokens(caller)
        case .deleteToken: return try deleteToken(request, caller: caller)
        case .listTeams: return try listTeams(caller)
        case .createTeam: return try createTeam(request, caller: caller)
        case .getTeam: return try getTeam(request, caller: caller)
        case .addTeamMember: return try addTeamMember(request, caller: caller)
        case .removeTeamMember: return try removeTeamMember(request, caller: caller)
        case .listProjects: return try listProjects(caller)
        case .createProject: return try createProject(request, caller: caller)
        case .getProject: return try getProject(request, caller: caller)
        case .deleteProject: return try deleteProject(request, caller: caller)
        case .updateProject: return try updateProject(request, caller: caller)
        case .setProjectMember: return try setProjectMember(request, caller: caller)
        case .removeProjectMember: return try removeProjectMember(request, caller: caller)
        case .listSkills: return try listSkills(request, caller: caller)
        case .createSkill: return try createSkill(request, caller: caller)
        case .getSkill: return try getSkill(request, caller: caller)
        case .createSkillVersion: return try createSkillVersion(request, caller: caller)
        case .listSkillVersions: return try listSkillVersions(request, caller: caller)
        case .getSkillVersion: return try getSkillVersion(request, caller: caller)
        case .listProviders: return try listProviders(request, caller: caller)
        case .createProvider: return try createProvider(request, caller: caller)
        case .getProvider: return try getProvider(request, caller: caller)
        case .updateProvider: return try updateProvider(request, caller: caller)
        case .revealProvider: return try revealProvider(request, caller: caller)
        case .listAgents: return try listAgents(request, caller: caller)
        case .createAgent: return try createAgent(request, caller: caller)
        case .getAgent: return try getAgent(request, caller: caller)
        case .updateAgent: return try updateAgent(request, caller: caller)
        case .listAgentVersions: return try listAgentVersions(request, caller: caller)
        case .submitJob: return try await submitJob(request, caller: caller)
        case .getJob: return try await getJob(request, caller: caller)
        case .listJobs: return try listJobs(request, caller: caller)
        case .cancelJob: return try cancelJob(request, caller: caller)
        case .createRuns: return try createRuns(request, caller: caller)
        case .listSessions: return try listSessions(request, caller: caller)
        case .createSession: return try createSession(request, caller: caller)
        case .getSession: return try getSession(request, caller: caller)
        case .listMessages: return try listMessages(request, caller: caller)
        case .createMessage: return try createMessage(request, caller: caller)
        case .uploadFile: return try uploadFile(request, caller: caller)
        case .listFiles: return try listFiles(request, caller: caller)
        case .getFile: return try getFile(request, caller: caller)
        case .deleteFile: return try deleteFile(request, caller: caller)
        case .listWorkers: return listWorkers(caller)
        case .listWorkerTokens: return try listWorkerTokens(caller)
        case .createWorkerToken: return try createWorkerToken(request, caller: caller)
        case .deleteWorkerToken: return try deleteWorkerToken(request, caller: caller)
        case .cluster:
            return .ok([
                "bus": .array(cluster.busEndpoints.map(JSONValue.string)),
                "curve_public_key": cluster.curvePublicKey.map(JSONValue.string) ?? .null,
                "heartbeat_ms": .number(Double(cluster.heartbeatMS)),
                "server_version": .string(AgentOSVersion.current),
            ])
        case .audit: return try listAudit(request, caller: caller)
        }
    }

    // MARK: Shared checks

    func authenticate(_ request: APICall) async throws -> Caller {
        guard let caller = try await authenticator.caller(request.token) else { throw APIError.unauthorized }
        return caller
    }

    func requireAdmin(_ caller: Caller) throws(APIError) {
        guard caller.isAdmin else { throw APIError.adminOnly }
    }

    /// The caller's access to a project; 404 when they may not see it, so existence is not leaked.
    func projectAccess(_ idOrName: String?, caller: Caller) throws -> ProjectAccess {
        guard let idOrName, let project = try store.project(idOrName: idOrName) else { throw APIError.notFound("project") }
        return try access(to: project, caller: caller, notFound: "project")
    }

    /// The caller's access to `project`; 404 naming `notFound` when they are not in it.
    func access(to project: Project, caller: Caller, notFound: String) throws -> ProjectAccess {
        let role = try store.role(of: caller.user.id, in: project.id)
        guard caller.isAdmin || role != nil else { throw APIError.notFound(notFound) }
        return ProjectAccess(project: project, role: role, isAdmin: caller.isAdmin)
    }

    /// A record addressed by id alone (a job, session or file) and the caller's read access to
    /// its project; 404 naming `what` when it is missing or the caller is not in the project.
    func visible<Record>(
        _ what: String, _ id: String?, caller: Caller, fetch: (String) throws -> Record?, projectID: (Record) -> String
    ) throws -> (Record, ProjectAccess) {
        guard let id, let record = try fetch(id), let project = try store.project(id: projectID(record)) else {
            throw APIError.notFound(what)
        }
        let access = try access(to: project, caller: caller, notFound: what)
        try access.require(.read)
        return (record, access)
    }

    /// Appends to the audit log; a failure to write it is logged, not passed to the client.
    func audit(
        _ action: String, caller: Caller?, target: String? = nil, projectID: String? = nil,
        detail: [String: JSONValue] = [:], address: String? = nil, actorEmail: String? = nil
    ) {
        do {
            try store.audit(AuditEntry(
                action: action, actorID: caller?.user.id, actorEmail: caller?.user.email ?? actorEmail, target: target,
                projectID: projectID, detail: detail, address: address))
        } catch {
            logger.error("audit write failed", metadata: ["action": "\(action)", "error": "\(error)"])
        }
    }

    /// `limit` from the query, 1…`maximum`, default `fallback`.
    func pageLimit(_ text: String?, fallback: Int = 50, maximum: Int = 200) throws(APIError) -> Int {
        guard let text else { return fallback }
        guard let limit = Int(text), (1...maximum).contains(limit) else { throw .invalid("limit must be 1-\(maximum)") }
        return limit
    }
}
