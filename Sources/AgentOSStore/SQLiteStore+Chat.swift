import AgentOSWire
import Foundation
import GRDB

extension SQLiteStore {
    @discardableResult
    public func createChatSession(_ session: ChatSession) throws -> ChatSession {
        try writer.write { db in try session.inserted(db) }
    }

    public func chatSession(id: String) throws -> ChatSession? {
        try writer.read { db in try ChatSession.fetchOne(db, key: id) }
    }

    public func chatSessions(projectID: String, limit: Int) throws -> [ChatSession] {
        try writer.read { db in
            try ChatSession.filter(Column("project_id") == projectID)
                .order(Column("updated_at").desc, Column("id").desc).limit(limit).fetchAll(db)
        }
    }

    public func appendMessage(sessionID: String, role: MessageRole, content: String, jobID: String?, by userID: String, now: Date) throws -> ChatMessage {
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

    public func messages(sessionID: String, afterSeq: Int, limit: Int) throws -> [ChatMessage] {
        try writer.read { db in
            try ChatMessage.filter(Column("session_id") == sessionID && Column("seq") > afterSeq)
                .order(Column("seq")).limit(limit).fetchAll(db)
        }
    }
}
