import AgentOSAPI
import AgentOSStore
import AgentOSWire
import Foundation
import Logging

/// What every resource's handlers share: the store, the authenticator, the log, and the
/// checks on a caller's access.
struct APIContext: Sendable {
    let store: any AppStore
    let authenticator: Authenticator
    let logger: Logger

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

    /// `updated_since` from the query: an ISO 8601 time, or nil when absent.
    func updatedSince(_ text: String?) throws(APIError) -> Date? {
        guard let text else { return nil }
        guard let date = Timestamp.parse(text) else {
            throw .invalid("updated_since must be an ISO 8601 time, e.g. 2026-01-02T03:04:05.678Z")
        }
        return date
    }
}

/// The handlers of one resource (jobs, skills, files, …): the operations it answers, and
/// only the dependencies those need beside the shared `APIContext`.
protocol APIResource: Sendable {
    /// The authenticated operations this resource answers.
    static var operations: [APIOperation] { get }
    /// The store, authenticator and shared checks.
    var context: APIContext { get }
    /// Answers one of `operations` for an authenticated caller.
    func respond(to request: APICall, as caller: Caller) async throws -> Reply
}

/// The shared checks, callable by name in every resource.
extension APIResource {
    var store: any AppStore { context.store }
    var logger: Logger { context.logger }

    func requireAdmin(_ caller: Caller) throws(APIError) { try context.requireAdmin(caller) }

    func projectAccess(_ idOrName: String?, caller: Caller) throws -> ProjectAccess {
        try context.projectAccess(idOrName, caller: caller)
    }

    func access(to project: Project, caller: Caller, notFound: String) throws -> ProjectAccess {
        try context.access(to: project, caller: caller, notFound: notFound)
    }

    func visible<Record>(
        _ what: String, _ id: String?, caller: Caller, fetch: (String) throws -> Record?, projectID: (Record) -> String
    ) throws -> (Record, ProjectAccess) {
        try context.visible(what, id, caller: caller, fetch: fetch, projectID: projectID)
    }

    func audit(
        _ action: String, caller: Caller?, target: String? = nil, projectID: String? = nil,
        detail: [String: JSONValue] = [:], address: String? = nil, actorEmail: String? = nil
    ) {
        context.audit(action, caller: caller, target: target, projectID: projectID, detail: detail, address: address, actorEmail: actorEmail)
    }

    func pageLimit(_ text: String?, fallback: Int = 50, maximum: Int = 200) throws(APIError) -> Int {
        try context.pageLimit(text, fallback: fallback, maximum: maximum)
    }

    func updatedSince(_ text: String?) throws(APIError) -> Date? { try context.updatedSince(text) }
}
