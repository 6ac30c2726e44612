import AgentOSAPI
import AgentOSAuth
import AgentOSStore
import AgentOSWire
import Foundation
import Logging

/// What a handler answers: a status with a typed JSON body, raw bytes (file downloads), or
/// nothing. A JSON body is encoded here, once; the gateway passes the bytes on untouched.
struct Reply: Sendable {
    var status: Int
    var body: Data
    var headers: [String: String] = [:]
    /// The contract type of a JSON body (nil: no body, or raw bytes).
    var bodyType: ObjectIdentifier?
    var bodyTypeName = ""

    static func ok<Body: APIBody>(_ body: Body) throws -> Reply { try .status(200, body) }
    static func created<Body: APIBody>(_ body: Body) throws -> Reply { try .status(201, body) }

    static func status<Body: APIBody>(_ status: Int, _ body: Body) throws -> Reply {
        Reply(
            status: status, body: try APICoding.encode(body), headers: ["Content-Type": "application/json"],
            bodyType: ObjectIdentifier(Body.self), bodyTypeName: "\(Body.self)")
    }

    static let noContent = Reply(status: 204, body: Data())

    static func bytes(_ data: Data, headers: [String: String]) -> Reply {
        Reply(status: 200, body: data, headers: headers)
    }
}

/// One request as the handlers see it: the envelope, with a JSON route's body checked to be
/// JSON before anything else, and decoded into its contract type when the handler asks.
struct APICall: Sendable {
    /// The request as it came off the socket.
    let request: APIRequest

    var operation: APIOperation { request.operation }
    var token: String? { request.token }
    var params: [String: String] { request.params }
    var client: String? { request.client }
    var contentType: String? { request.contentType }
    /// The bytes of an upload.
    var raw: Data { request.body }

    /// Checks the body of a JSON route is JSON, in the handler's task rather than on the
    /// socket's thread.
    init(_ request: APIRequest) throws(APIError) {
        self.request = request
        if let (name, _) = request.params.first(where: { $0.value.containsNUL }) {
            throw APIError.invalid("\(name) must not contain U+0000 (NUL)")
        }
        guard APIRoutes.bodyKind(of: request.operation) == .json else { return }
        guard (try? JSONValue.parse(request.body)) != nil else { throw APIError.invalid("the request body is not valid JSON") }
    }

    /// The body as the operation's request type; a field that does not fit is a 400 naming it.
    func body<Body: APIBody>(_ type: Body.Type) throws(APIError) -> Body {
        assert(operation.contract.request.map(ObjectIdentifier.init) == ObjectIdentifier(type), "\(operation) does not take \(type)")
        let body: Body
        do {
            body = try APICoding.decode(type, from: request.body)
        } catch {
            // The body was checked to be JSON: what the decoder calls invalid JSON is a number
            // that does not fit its field (2.5 where an integer belongs, or one too large).
            let message = error.path.isEmpty && error.message == "is not valid JSON"
                ? "a number in the body does not fit its field: an integer is expected, or a smaller number" : error.description
            var failure = APIError.invalid(message)
            if !error.path.isEmpty { failure.path = error.path }
            throw failure
        }
        // JSON writes U+0000 only as the escape \u0000: a body without it needs no walk.
        if request.body.range(of: NULCheck.escapedNUL) != nil, let path = NULCheck.firstNUL(in: body) {
            var failure = APIError.invalid("\(path) must not contain U+0000 (NUL): text is stored as text, which cannot hold it")
            failure.path = path
            throw failure
        }
        return body
    }
}

/// Answers the operations gateways forward: authenticates the caller and hands the request to
/// the resource that owns its operation (`Resources/`), which checks the caller's rights
/// against the permission table and reads or writes the store. Runs on Swift concurrency,
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
        /// With a store shared by several servers: the bus endpoints of all that are live.
        public var peers: (@Sendable () throws -> [String])?

        public init(busEndpoints: [String], curvePublicKey: String?, heartbeatMS: Int, peers: (@Sendable () throws -> [String])? = nil) {
            self.busEndpoints = busEndpoints
            self.curvePublicKey = curvePublicKey
            self.heartbeatMS = heartbeatMS
            self.peers = peers
        }
    }

    /// Limits on what clients may store.
    public struct Limits: Sendable {
        /// Largest file upload.
        public var maxFileBytes = 32 << 20
        /// Bytes of files being downloaded at once (each is read whole before it is sent);
        /// past it a download is answered `503` with `Retry-After`.
        public var maxDownloadBytesInFlight = 256 << 20
        /// How long a login session (its refresh tokens) lasts.
        public var sessionLifetime: TimeInterval = 30 * 86_400
        /// Failed-login limits.
        public var login = LoginThrottle.Limits()
        /// Queue and submit-rate quotas per user and project.
        public var submits = SubmitQuotas.Limits()

        /// The defaults.
        public init() {}
    }

    /// Longest `?wait=` a request may ask for, in seconds.
    public static let maxWaitSeconds = 300.0
    /// Largest job or skill code.
    static let maxCodeBytes = 512 * 1024

    private let context: APIContext
    private let directory: WorkerDirectory
    private let metrics: ServerMetrics?
    private let auth: AuthResource
    let files: FileResource
    /// The resource answering each authenticated operation.
    private let resources: [APIOperation: any APIResource]
    /// Which resources claim each operation (exactly one each, checked by a test).
    let claims: [APIOperation: [String]]

    init(
        store: any AppStore, tokens: AccessTokens, fileTokens: JobFileTokens, passwords: Passwords, secrets: SecretBox,
        blobs: any BlobStore, watch: JobWatch, directory: WorkerDirectory, cluster: ClusterInfo, limits: Limits,
        queueCounts: QueueCounts = QueueCounts(), signals: any DispatchSignals, metrics: ServerMetrics? = nil, logger: Logger
    ) {
        let context = APIContext(store: store, authenticator: Authenticator(store: store, tokens: tokens, fileTokens: fileTokens), logger: logger)
        self.context = context
        self.directory = directory
        self.metrics = metrics
        auth = AuthResource(
            context: context, tokens: tokens, passwords: passwords, throttle: LoginThrottle(limits: limits.login),
            sessionLifetime: limits.sessionLifetime, signals: signals)
        files = FileResource(
            context: context, blobs: blobs, maxFileBytes: limits.maxFileBytes, downloads: ByteBudget(limit: limits.maxDownloadBytesInFlight))
        let all: [any APIResource] = [
            auth, files,
            UserResource(context: context, passwords: passwords, signals: signals),
            WorkerResource(context: context, directory: directory, cluster: cluster, signals: signals),
            TeamResource(context: context),
            ProjectResource(context: context, blobs: blobs, signals: signals),
            SkillResource(context: context),
            ModelConfigResource(context: context, secrets: secrets),
            JobResource(
                context: context, watch: watch, directory: directory, signals: signals, submits: GroupedSubmits(store: store),
                quotas: SubmitQuotas(limits: limits.submits, counts: queueCounts), metrics: metrics),
            SessionResource(context: context),
        ]
        var resources: [APIOperation: any APIResource] = [:]
        var claims: [APIOperation: [String]] = [:]
        for resource in all {
            for operation in type(of: resource).operations {
                resources[operation] = resource
                claims[operation, default: []].append("\(type(of: resource))")
            }
        }
        self.resources = resources
        self.claims = claims
    }

    /// Operations answered before authentication, each in its own way.
    static let publicOperations: Set<APIOperation> = [.health, .metrics, .login, .refresh, .downloadFile]

    /// Handles one request; every failure becomes an error response, never a crash.
    public func handle(_ request: APIRequest) async -> APIResponse {
        do {
            let reply = try await route(try APICall(request))
            if !request.operation.contract.allows(status: reply.status, body: reply.bodyType) {
                // A handler answered what the contract does not say: a defect of ours, which the
                // role-matrix test catches; the client still gets the answer.
                context.logger.error("undocumented answer", metadata: [
                    "op": "\(request.operation.rawValue)", "status": "\(reply.status)", "body": "\(reply.bodyTypeName)",
                ])
            }
            var headers = reply.headers
            if reply.status != 204, headers["Content-Type"] == nil { headers["Content-Type"] = "application/octet-stream" }
            return APIResponse(id: request.id, status: reply.status, headers: headers, body: reply.body)
        } catch let error as APIError {
            return .error(id: request.id, status: error.status, code: error.code, message: error.message, path: error.path, headers: error.headers)
        } catch StoreError.conflict(let message) {
            return .error(id: request.id, status: 409, code: "conflict", message: message)
        } catch StoreError.notFound(let what) {
            return .error(id: request.id, status: 404, code: "not_found", message: "\(what) not found")
        } catch {
            context.logger.error("request failed", metadata: ["op": "\(request.operation.rawValue)", "error": "\(error)"])
            return .error(id: request.id, status: 503, code: "unavailable", message: "the server could not complete the request; try again")
        }
    }

    private func route(_ request: APICall) async throws -> Reply {
        switch request.operation {
        case .health:
            return try .ok(Schemas.Health(status: "ok", serverVersion: AgentOSVersion.current, workers: directory.workers.count))
        case .metrics:
            // The exposition text as it is (the gateway adds it to its own); nothing to say
            // without metrics (a test's handler).
            return Reply(status: 200, body: Data(metrics?.exposition() ?? []), headers: ["Content-Type": "text/plain; version=0.0.4; charset=utf-8"])
        case .login: return try await auth.login(request)
        case .refresh: return try await auth.refresh(request)
        case .downloadFile: return try await files.download(request)
        default:
            guard let resource = resources[request.operation] else { throw APIError.notFound("operation") }
            return try await resource.respond(to: request, as: try await context.authenticate(request))
        }
    }
}
