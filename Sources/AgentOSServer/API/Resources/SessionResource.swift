import AgentOSAPI
import AgentOSStore
import AgentOSWire
import Foundation

/// Chat sessions and their messages.
struct SessionResource: APIResource {
    static let operations: [APIOperation] = [.listSessions, .createSession, .getSession, .listMessages, .createMessage]

    let context: APIContext

    func respond(to request: APICall, as caller: Caller) async throws -> Reply {
        switch request.operation {
        case .listSessions: return try listSessions(request, caller: caller)
        case .createSession: return try createSession(request, caller: caller)
        case .getSession: return try getSession(request, caller: caller)
        case .listMessages: return try listMessages(request, caller: caller)
        case .createMessage: return try createMessage(request, caller: caller)
        default: throw APIError.notFound("operation")
        }
    }

    func listSessions(_ request: APICall, caller: Caller) throws -> Reply {
        let access = try projectAccess(request.params["project"], caller: caller)
        try access.require(.read)
        let limit = try pageLimit(request.params["limit"], fallback: 100, maximum: 500)
        let sessions = try store.chatSessions(projectID: access.project.id, limit: limit)
        return try .ok(Schemas.SessionList(sessions: sessions.map { Schemas.Session($0, project: access.project) }))
    }

    func createSession(_ request: APICall, caller: Caller) throws -> Reply {
        let access = try projectAccess(request.params["project"], caller: caller)
        try access.require(.writeSession)
        let body = try request.body(Schemas.CreateSessionRequest.self)
        let title = try FieldRules.text(body.title, "title", maxLength: 200) ?? "New session"
        let agent = try FieldRules.text(body.agent, "agent", maxLength: 64)
        if let agent, try store.agent(projectID: access.project.id, name: agent) == nil {
            throw APIError.invalid("agent \(agent) does not exist in project \(access.project.name)")
        }
        let session = try store.createChatSession(ChatSession(projectID: access.project.id, title: title, agent: agent, createdBy: caller.user.id))
        return try .created(Schemas.Session(session, project: access.project))
    }

    /// The session and the caller's access to its project; 404 when they may not see it.
    private func visibleSession(_ id: String?, caller: Caller) throws -> (ChatSession, ProjectAccess) {
        try visible("session", id, caller: caller, fetch: store.chatSession(id:), projectID: \.projectID)
    }

    func getSession(_ request: APICall, caller: Caller) throws -> Reply {
        let (session, access) = try visibleSession(request.params["session"], caller: caller)
        return try .ok(Schemas.Session(session, project: access.project))
    }

    func listMessages(_ request: APICall, caller: Caller) throws -> Reply {
        let (session, _) = try visibleSession(request.params["session"], caller: caller)
        let limit = try pageLimit(request.params["limit"], fallback: 100, maximum: 1000)
        var after = 0
        if let text = request.params["after"] {
            guard let seq = Int(text), seq >= 0 else { throw APIError.invalid("after must be a message seq (0 or more)") }
            after = seq
        }
        let messages = try store.messages(sessionID: session.id, afterSeq: after, limit: limit)
        let next = messages.count == limit ? messages.last.map { String($0.seq) } : nil
        return try .ok(Schemas.MessageList(messages: messages.map(Schemas.Message.init), nextCursor: next))
    }

    func createMessage(_ request: APICall, caller: Caller) throws -> Reply {
        let (session, access) = try visibleSession(request.params["session"], caller: caller)
        try access.require(.writeSession)
        let body = try request.body(Schemas.CreateMessageRequest.self)
        let role = body.role
        guard let content = try FieldRules.text(body.content, "content", maxLength: 1 << 20) else { throw APIError.invalid("content is required") }
        let jobID = try FieldRules.text(body.jobID, "job_id", maxLength: 64)
        if let jobID {
            guard let job = try store.job(id: jobID), job.projectID == session.projectID else {
                throw APIError.invalid("job \(jobID) does not exist in project \(access.project.name)")
            }
        }
        let message = try store.appendMessage(sessionID: session.id, role: role, content: content, jobID: jobID, by: caller.user.id)
        return try .created(Schemas.Message(message))
    }
}
