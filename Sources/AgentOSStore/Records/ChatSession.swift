import AgentOSWire
import Foundation
import GRDB

/// A chat session of a project.
public struct ChatSession: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "chat_sessions"

    public var id: String
    public var projectID: String
    public var title: String
    /// The agent's name, if the session talks to one.
    public var agent: String?
    public var createdBy: String
    public var createdAt: Date
    public var updatedAt: Date

    public init(id: String = UUID().uuidString.lowercased(), projectID: String, title: String, agent: String?, createdBy: String, now: Date = Date()) {
        self.id = id
        self.projectID = projectID
        self.title = title
        self.agent = agent
        self.createdBy = createdBy
        self.createdAt = now
        self.updatedAt = now
    }

    enum CodingKeys: String, CodingKey {
        case id, title, agent
        case projectID = "project_id"
        case createdBy = "created_by"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
    }
}

/// One message of a session; `seq` orders them (1, 2, …).
public struct ChatMessage: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "chat_messages"

    public var id: String
    public var sessionID: String
    public var seq: Int
    public var role: MessageRole
    public var content: String
    public var jobID: String?
    public var createdBy: String
    public var createdAt: Date

    /// Message number `seq` of session `sessionID`.
    public init(
        id: String = UUID().uuidString.lowercased(), sessionID: String, seq: Int, role: MessageRole, content: String,
        jobID: String?, createdBy: String, createdAt: Date
    ) {
        self.id = id
        self.sessionID = sessionID
        self.seq = seq
        self.role = role
        self.content = content
        self.jobID = jobID
        self.createdBy = createdBy
        self.createdAt = createdAt
    }

    enum CodingKeys: String, CodingKey {
        case id, seq, role, content
        case sessionID = "session_id"
        case jobID = "job_id"
        case createdBy = "created_by"
        case createdAt = "created_at"
    }
}
