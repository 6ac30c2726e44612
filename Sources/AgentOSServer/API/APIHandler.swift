import AgentOSAuth
import AgentOSStore
import AgentOSWire
import Foundation
import Logging

/// Answers the operations gateways forward: authenticates the caller, checks their rights,
/// and reads or writes the store. Runs on Swift concurrency, off the socket threads.
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

    let store: AppStore
    let tokens: AccessTokens
    let passwords: Passwords
    let watch: JobWatch
    let directory: WorkerDirectory
    let cluster: ClusterInfo
    let busEvents: @Sendable (BusLoop.Event) -> Void
    let logger: Logger

    /// Longest `?wait=` a request may ask for, in seconds.
    public static let maxWaitSeconds = 300.0
    /// Largest encoded page of a job listing; items past it go to the next page.
    static let maxListBytes = 8 << 20

    /// Handles one request; every failure becomes an error response, never a crash.
    public func handle(_ request: APIRequest) async -> APIResponse {
        do {
            let (status, body) = try await route(request)
            return APIResponse(id: request.id, status: status, body: body)
        } catch let error as APIError {
            return .error(id: request.id, status: error.status, code: error.code, message: error.message)
        } catch StoreError.conflict(let message) {
            return .error(id: request.id, status: 409, code: "conflict", message: message)
        } catch StoreError.notFound(let what) {
            return .error(id: request.id, status: 404, code: "not_found", message: "\(what) not found")
        } catch {
            logger.error("request failed", metadata: ["op": "\(request.operation.rawValue)", "error": "\(error)"])
            return .error(id: request.id, status: 503, code: "unavailable", message: "the server could not complete the request; try again")
        }
    }

    private func route(_ request: APIRequest) async throws -> (Int, JSONValue) {
        switch request.operation {
        case .health:
            return (200, ["status": "ok", "server_version": .string(AgentOSVersion.current),
                          "workers": .number(Double(directory.workers.count))])
        case .login:
            return try await login(request.body)
        case .me:
            return (200, Representation.user(try await authenticate(request)))
        case .submitJob:
            return try await submitJob(request, user: try await authenticate(request))
        case .getJob:
            return try await getJob(request, user: try await authenticate(request))
        case .listJobs:
            return try await listJobs(request, user: try await authenticate(request))
        case .cancelJob:
            return try await cancelJob(request, user: try await authenticate(request))
        case .listWorkers:
            return listWorkers(for: try await authenticate(request))
        case .cluster:
            _ = try await authenticate(request)
            return (200, [
                "bus": .array(cluster.busEndpoints.map(JSONValue.string)),
                "curve_public_key": cluster.curvePublicKey.map(JSONValue.string) ?? .null,
                "heartbeat_ms": .number(Double(cluster.heartbeatMS)),
                "server_version": .string(AgentOSVersion.current),
            ])
        }
    }

    // MARK: Auth

    private func authenticate(_ request: APIRequest) async throws -> User {
        guard let token = request.token, !token.isEmpty, let userID = await tokens.verify(token),
            let user = try store.user(id: userID), !user.disabled
        else { throw APIError.unauthorized }
        return user
    }

    private func login(_ body: JSONValue?) async throws -> (Int, JSONValue) {
        let reader = try BodyReader(body)
        let email = try reader.string("email", maxLength: 320, required: true) ?? ""
        let password = try reader.string("password", maxLength: 1024, required: true) ?? ""
        let user = try store.user(email: email)
        let passwordMatches = await passwords.verifyOffloaded(password, hash: user?.passwordHash)
        guard let user, passwordMatches, !user.disabled else {
            logger.notice("failed login", metadata: ["email": "\(email)"])
            throw APIError(401, "invalid_credentials", "email or password is wrong")
        }
        let token = try await tokens.issue(userID: user.id)
        logger.info("login", metadata: ["user": "\(user.id)"])
        return (200, [
            "access_token": .string(token), "token_type": "Bearer",
            "expires_in": .number(tokens.lifetime), "user": Representation.user(user),
        ])
    }

    // MARK: Projects and rights

    /// The project, if the user may see it; 404 otherwise so existence is not leaked.
    private func visibleProject(_ idOrName: String?, user: User) throws -> (Project, ProjectRole?) {
        guard let idOrName, let project = try store.project(idOrName: idOrName) else { throw APIError.notFound("project") }
        let role = try store.role(of: user.id, in: project.id)
        guard user.role == .admin || role != nil else { throw APIError.notFound("project") }
        return (project, role)
    }

    // MARK: Jobs

    private func submitJob(_ request: APIRequest, user: User) async throws -> (Int, JSONValue) {
        let (project, role) = try visibleProject(request.params["project"], user: user)
        guard user.role == .admin || (role ?? .viewer) >= .runner else {
            throw APIError.forbidden("submitting jobs needs the runner role in \(project.name)")
        }
        let wait = try waitSeconds(request.params["wait"])
        var job = try JobRequest.parse(request.body).job(projectID: project.id, submittedBy: user.id)
        let submitted = try store.submit(job)
        job = submitted.job
        let ticket = wait.map { _ in watch.register(job.id) }
        if submitted.created { busEvents(.jobQueued) }

        var warnings: [String] = []
        let connected = directory.workers
        if !connected.contains(where: { $0.canRun(job) }) {
            if job.target == .cloud, let requested = job.requestedWorker,
                connected.contains(where: { $0.kind == .private && ($0.name == requested || $0.workerID == requested) })
            {
                warnings.append("\(requested) is a private worker: submit with target \"private\" to run there; this job waits in the queue")
            } else {
                warnings.append(job.target == .private
                    ? "none of your private workers that can run this job is connected; it waits in the queue"
                    : "no connected cloud worker can run this job; it waits in the queue")
            }
        }
        if let ticket, let wait, let finished = try await waitUntilEnded(ticket, seconds: wait), finished.status.isFinal {
            return (200, Representation.job(finished, projectName: project.name))
        }
        let current = try store.job(id: job.id) ?? job
        return (submitted.created ? 202 : 200, Representation.job(current, projectName: project.name, warnings: warnings))
    }

    /// The job and its project, if the user may see them; 404 otherwise.
    private func visibleJob(_ id: String?, user: User) throws -> (Job, Project, ProjectRole?) {
        guard let id, let job = try store.job(id: id), let project = try store.project(id: job.projectID)
        else { throw APIError.notFound("job") }
        let role = try store.role(of: user.id, in: project.id)
        guard user.role == .admin || role != nil else { throw APIError.notFound("job") }
        return (job, project, role)
    }

    /// The job; with `?wait=SECONDS`, once it has ended or the wait is over (a long poll).
    private func getJob(_ request: APIRequest, user: User) async throws -> (Int, JSONValue) {
        let wait = try waitSeconds(request.params["wait"])
        var (job, project, _) = try visibleJob(request.params["id"], user: user)
        if let wait, !job.status.isFinal {
            job = try await waitUntilEnded(watch.register(job.id), seconds: wait) ?? job
        }
        return (200, Representation.job(job, projectName: project.name))
    }

    /// Waits up to `seconds` for the ticket's job to end and returns it as it is then. The
    /// ticket is taken before this re-reads the job, so an end in between is not missed.
    private func waitUntilEnded(_ ticket: JobWatch.Ticket, seconds: Double) async throws -> Job? {
        let current: Job?
        do {
            current = try store.job(id: ticket.jobID)
        } catch {
            watch.forget(ticket)
            throw error
        }
        if let current, current.status.isFinal {
            watch.forget(ticket)
            return current
        }
        await watch.wait(ticket, timeout: .milliseconds(Int(seconds * 1000)))
        return try store.job(id: ticket.jobID)
    }

    private func cancelJob(_ request: APIRequest, user: User) async throws -> (Int, JSONValue) {
        let (job, project, role) = try visibleJob(request.params["id"], user: user)
        let mayCancel = user.role == .admin || (role ?? .viewer) >= .editor || ((role ?? .viewer) >= .runner && job.submittedBy == user.id)
        guard mayCancel else { throw APIError.forbidden("cancelling this job needs the editor role, or the runner role and being its submitter") }
        guard let (before, cancelled) = try store.cancel(jobID: job.id) else {
            throw APIError(409, "conflict", "job \(job.id) already ended")
        }
        // The state inside the cancelling transaction decides, not the earlier read.
        if before.status == .running, let workerID = before.workerID {
            busEvents(.jobCancelled(jobID: before.id, workerID: workerID, attempt: before.attempts))
        }
        watch.finished(job.id)
        logger.info("job cancelled", metadata: ["job": "\(job.id)", "by": "\(user.id)"])
        return (200, Representation.job(cancelled, projectName: project.name))
    }

    private func listJobs(_ request: APIRequest, user: User) async throws -> (Int, JSONValue) {
        let (project, _) = try visibleProject(request.params["project"], user: user)
        var status: JobStatus?
        if let text = request.params["status"] {
            guard let parsed = JobStatus(rawValue: text) else {
                throw APIError.invalid("status must be one of \(JobStatus.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            status = parsed
        }
        var limit = 50
        if let text = request.params["limit"] {
            guard let parsed = Int(text), (1...200).contains(parsed) else { throw APIError.invalid("limit must be 1-200") }
            limit = parsed
        }
        let after = try request.params["cursor"].map(JobCursor.decode)
        let jobs = try store.jobs(projectID: project.id, status: status, origin: request.params["origin"], after: after, limit: limit)
        // List items leave out stdout and stderr (GET /jobs/{id} has them), and a page stops
        // early rather than grow past a few MiB: inputs and results can be large too.
        var items: [JSONValue] = []
        var bytes = 0
        for job in jobs {
            var item = Representation.job(job, projectName: project.name).objectValue ?? [:]
            item["stdout"] = nil
            item["stderr"] = nil
            bytes += JSONValue.object(item).encoded().count
            if bytes > Self.maxListBytes, !items.isEmpty { break }
            items.append(.object(item))
        }
        let next = items.count < jobs.count || jobs.count == limit ? items.last?["id"]?.stringValue.map(JobCursor.encode) : nil
        return (200, [
            "jobs": .array(items),
            "next_cursor": next.map(JSONValue.string) ?? .null,
        ])
    }

    private func waitSeconds(_ text: String?) throws -> Double? {
        guard let text else { return nil }
        guard let seconds = Double(text), seconds.isFinite, seconds >= 0, seconds <= Self.maxWaitSeconds else {
            throw APIError.invalid("wait must be a number of seconds between 0 and \(Int(Self.maxWaitSeconds))")
        }
        return seconds
    }

    // MARK: Workers

    private func listWorkers(for user: User) -> (Int, JSONValue) {
        let all = directory.workers
        let cloud = all.filter { $0.kind == .cloud }
        let visible = user.role == .admin ? all : all.filter { $0.kind == .private && $0.ownerID == user.id }
        return (200, [
            "workers": .array(visible.map(Representation.worker)),
            "cloud": [
                "workers": .number(Double(cloud.count)),
                "slots": .number(Double(cloud.reduce(0) { $0 + $1.slots })),
                "free_slots": .number(Double(cloud.reduce(0) { $0 + $1.freeSlots })),
            ],
        ])
    }
}
