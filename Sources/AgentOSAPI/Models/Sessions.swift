import AgentOSWire
import Foundation

extension Schemas {
    /// A chat session.
    public struct Session: APISchema, Equatable {
        public var id: String
        public var project: String
        public var title: String
        @Nullable public var agent: String?
        public var createdBy: String
        public var createdAt: Date
        public var updatedAt: Date

        public init(
            id: String, project: String, title: String, agent: String? = nil, createdBy: String, createdAt: Date,
            updatedAt: Date
        ) {
            self.id = id
            self.project = project
            self.title = title
            self.agent = agent
            self.createdBy = createdBy
            self.createdAt = createdAt
            self.updatedAt = updatedAt
        }

        enum CodingKeys: String, CodingKey {
            case id
            case project
            case title
            case agent
            case createdBy = "created_by"
            case createdAt = "created_at"
            case updatedAt = "updated_at"
        }
    }

    /// `GET /projects/{project}/sessions`.
    public struct SessionList: APISchema, Equatable {
        public var sessions: [Session]

        public init(
            sessions: [Session]
        ) {
            self.sessions = sessions
        }
    }

    /// `POST /projects/{project}/sessions`.
    public struct CreateSessionRequest: APISchema, Equatable {
        public static var fieldSchemas: [String: JSONValue] {
            [
                "title": ["maxLength": 200],
                "agent": ["maxLength": 64],
            ]
        }

        public var title: String?
        public var agent: String?

        public init(
            title: String? = nil, agent: String? = nil
        ) {
            self.title = title
            self.agent = agent
        }
    }

    /// One message of a session; `seq` orders them.
    public struct Message: APISchema, Equatable {
        public var id: String
        public var sessionID: String
        public var seq: Int
        public var role: MessageRole
        public var content: String
        @Nullable public var jobID: String?
        public var createdBy: String
        public var createdAt: Date

        public init(
            id: String, sessionID: String, seq: Int, role: MessageRole, content: String, jobID: String? = nil,
            createdBy: String, createdAt: Date
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
            case id
            case sessionID = "session_id"
            case seq
            case role
            case content
            case jobID = "job_id"
            case createdBy = "created_by"
            case createdAt = "created_at"
        }
    }

    /// `GET /sessions/{session}/messages`, oldest first.
    public struct MessageList: APISchema, Equatable {
        public var messages: [Message]
        @Nullable public var nextCursor: String?

        public init(
            messages: [Message], nextCursor: String? = nil
        ) {
            self.messages = messages
            self.nextCursor = nextCursor
        }

        enum CodingKeys: String, CodingKey {
            case messages
            case nextCursor = "next_cursor"
        }
    }

    /// `POST /sessions/{session}/messages`.
    public struct CreateMessageRequest: APISchema, Equatable {
        public static var fieldSchemas: [String: JSONValue] {
            [
                "content": ["maxLength": 1_048_576],
                "job_id": ["maxLength": 64],
            ]
        }

        public var role: MessageRole
        public var content: String
        public var jobID: String?

        public init(
            role: MessageRole, content: String, jobID: String? = nil
        ) {
            self.role = role
            self.content = content
            self.jobID = jobID
        }

        enum CodingKeys: String, CodingKey {
            case role
            case content
            case jobID = "job_id"
        }
    }
}
