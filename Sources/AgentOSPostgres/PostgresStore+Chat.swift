import AgentOSStore
import AgentOSWire
import Foundation
import PostgresNIO

extension PostgresStore {
    @discardableResult
    public func createChatSession(_ session: ChatSession) throws -> ChatSession {
        try write { db in try await db.insert(session, into: "chat_sessions", logger: logger) }
        return session
    }

    public func chatSession(id: String) throws -> ChatSession? {
        try read { db in try await db.one(ChatSession.self, "SELECT * FROM chat_sessions WHERE id = \(id)", logger: logger) }
    }

    public func chatSessions(projectID: String, limit: Int) throws -> [ChatSession] {
        try read { db in
            try await db.all(ChatSession.self, """
                SELECT * FROM chat_sessions WHERE project_id = \(projectID) ORDER BY updated_at DESC, id DESC LIMIT \(limit)
                """, logger: logger)
        }
    }

    public func appendMessage(sessionID: String, role: MessageRole, content: String, jobID: String?, by userID: String, now: Date) throws -> ChatMessage {
        try write { db in
            // The session's row, locked, orders its messages: one append at a time takes the next number.
            guard var session = try await db.one(
                ChatSession.self, "SELECT * FROM chat_sessions WHERE id = \(sessionID) FOR UPDATE", logger: logger)
            else { throw StoreError.notFound("session") }
            let last = try await db.scalar(Int.self, "SELECT COALESCE(MAX(seq), 0) FROM chat_messages WHERE session_id = \(sessionID)", logger: logger) ?? 0
            let message = ChatMessage(
                id: UUID().uuidString.lowercased(), sessionID: sessionID, seq: last + 1, role: role, content: content,
                jobID: jobID, createdBy: userID, createdAt: now)
            try await db.insert(message, into: "chat_messages", logger: logger)
            session.updatedAt = now
            try await db.update(session, in: "chat_sessions", logger: logger)
            return message
        }
    }

    public func messages(sessionID: String, afterSeq: Int, limit: Int) throws -> [ChatMessage] {
        try read { db in
            try await db.all(ChatMessage.self, """
                SELECT * FROM chat_messages WHERE session_id = \(sessionID) AND seq > \(afterSeq) ORDER BY seq LIMIT \(limit)
                """, logger: logger)
        }
    }
}
