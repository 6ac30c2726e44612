import AgentOSWire
import Foundation
import GRDB

extension AppStore {
    /// Stores a new chat session.
    @discardableResult
    public func createChatSession(_ session: ChatSession) throws -> ChatSession {
        try writer.write { db in try session.inserted(db) }
    }

    /// The chat session with this id.
    public func chatSession(id: String) throws -> ChatSession? {
        try writer.read { db in try ChatSession.fetchOne(db, key: id) }
    }

    /// A project's sessions, most recently active first; keyset-paged by `(updated_at, id)`.
    public func chatSessions(projectID: String, limit: Int) throws -> [ChatSession] {
        try writer.read { db in
            try ChatSession.filter(Column("project_id") == projectID)
                .order(Column("updated_at").desc, Column("id").desc).limit(limit).fetchAll(db)
        }
    }

    /// Appends a message, numbering it after the session's last one, in one transaction.
    public func appendMessage(sessionID: String, role: MessageRole, content: String, jobID: String?, by userID: String, now: Date = Date()) throws -> ChatMessage {
        try writer.write { db in
            guard var session = try ChatSession.fetchOne(db, key: sessionID) else { throw StoreError.notFound("session") }
            let last = try Int.fetchOne(db, sql: "SELECT MAX(seq) FROM chat_messages WHERE session_id = ?", arguments: [sessionID]) ?? 0
            let message = try ChatMessage(
                id: UUID().uuidString.lowercased(), sessionID: sessionID, seq: last + 1, role: role, content: content,
                jobID: jobID, createdBy: userID, createdAt: now
            ).inserted(db)
            session.updatedAt = now
            try session.update(db)
            return message
        }
    }

    /// Messages of a session in order, those after `afterSeq`, at most `limit`.
    public func messages(sessionID: String, afterSeq: Int, limit: Int) throws -> [ChatMessage] {
        try writer.read { db in
            try ChatMessage.filter(Column("session_id") == sessionID && Column("seq") > afterSeq)
                .order(Column("seq")).limit(limit).fetchAll(db)
        }
    }
}
