import AgentOSWire
import Foundation
import GRDB

/// One line of the audit log.
public struct AuditEntry: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "audit_log"

    /// Increasing sequence number (the cursor).
    public var seq: Int64?
    public var at: Date
    public var actorID: String?
    public var actorEmail: String?
    /// Dotted action name, e.g. `auth.login_failed`.
    public var action: String
    /// What it acted on (an id or an email).
    public var target: String?
    public var projectID: String?
    public var detail: [String: JSONValue]
    public var address: String?

    public init(action: String, actorID: String?, actorEmail: String?, target: String? = nil, projectID: String? = nil, detail: [String: JSONValue] = [:], address: String? = nil, at: Date = Date()) {
        self.at = at
        self.actorID = actorID
        self.actorEmail = actorEmail
        self.action = action
        self.target = target
        self.projectID = projectID
        self.detail = detail
        self.address = address
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) {
        seq = inserted.rowID
    }

    enum CodingKeys: String, CodingKey {
        case seq, at, action, target, detail, address
        case actorID = "actor_id"
        case actorEmail = "actor_email"
        case projectID = "project_id"
    }
}
