import AgentOSAuth
import AgentOSStore
import AgentOSWire
import Foundation
import Logging

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

    /// Longest `?wait=` a request may ask for, in seconds.
    public static let maxWaitSeconds = 300.0
    /// Largest job or skill code.
    static let maxCodeBytes = 512 * 1024

    private let context: APIContext
    private let directory: WorkerDirectory
    private let auth: AuthResource
    private let files: FileResource
    /// The resource answering each authenticated operation.
    private let resources: [APIOperation: any APIResource]
    /// Which resources claim each operation (exactly one each, checked by a test).
    let claims: [APIOperation: [String]]

    init(
        store: AppStore, tokens: AccessTokens, fileTokens: JobFileTokens, passwords: Passwords, secrets: SecretBox,
        blobs: BlobStore, watch: JobWatch, directory: WorkerDirectory, cluster: ClusterInfo, limits: Limits,
        signals: any DispatchSignals, logger: Logger
    ) {
        let context = APIContext(store: store, authenticator: Authenticator(store: store, tokens: tokens, fileTokens: fileTokens), logger: logger)
        self.context = context
        self.directory = directory
        auth = AuthResource(
            context: context, tokens: tokens, passwords: passwords, throttle: LoginThrottle(limits: limits.login),
            sessionLifetime: limits.sessionLifetime, signals: signals)
        files = FileResource(context: context, blobs: blobs, maxFileBytes: limits.maxFileBytes)
        let all: [any APIResource] = [
            auth, files,
            UserResource(context: context, passwords: passwords, signals: signals),
            WorkerResource(context: context, directory: directory, cluster: cluster, signals: signals),
            TeamResource(context: context),
            ProjectResource(context: context, blobs: blobs, signals: signals),
            SkillResource(context: context),
            ModelConfigResource(context: context, secrets: secrets),
            JobResource(context: context, watch: watch, directory: directory, signals: signals),
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
    static let publicOperations: Set<APIOperation> = [.health, .login, .refresh, .downloadFile]

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
            context.logger.error("request failed", metadata: ["op": "\(request.operation.rawValue)", "error": "\(error)"])
            return .error(id: request.id, status: 503, code: "unavailable", message: "the server could not complete the request; try again")
        }
    }

    private func route(_ request: APICall) async throws -> Reply {
        switch request.operation {
        case .health:
            return .ok(["status": "ok", "server_version": .string(AgentOSVersion.current), "workers": .number(Double(directory.workers.count))])
        case .login: return try await auth.login(request)
        case .refresh: return try await auth.refresh(request)
        case .downloadFile: return try await files.download(request)
        default:
            guard let resource = resources[request.operation] else { throw APIError.notFound("operation") }
            return try await resource.respond(to: request, as: try await context.authenticate(request))
        }
    }
}
