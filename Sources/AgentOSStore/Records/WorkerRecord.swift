import AgentOSWire
import Foundation
import GRDB

/// A worker the server has seen: what it said in `HELLO` and whether it is connected now.
public struct WorkerRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "workers"

    /// The worker's own stable id.
    public var id: String
    /// Its name.
    public var name: String
    /// Cloud or private.
    public var kind: WorkerKind
    /// For a private worker, the user it serves.
    public var ownerID: String?
    /// Labels it carries.
    public var labels: [String]
    /// Jobs it runs at once.
    public var slots: Int
    /// Its software version.
    public var version: String
    /// Whether it is connected now.
    public var online: Bool
    /// When it last said hello.
    public var connectedAt: Date
    /// When it was last heard from.
    public var lastSeenAt: Date

    /// A record of a worker.
    public init(
        id: String, name: String, kind: WorkerKind, ownerID: String?, labels: [String], slots: Int, version: String,
        online: Bool, connectedAt: Date, lastSeenAt: Date
    ) {
        self.id = id
        self.name = name
        self.kind = kind
        self.ownerID = ownerID
        self.labels = labels
        self.slots = slots
        self.version = version
        self.online = online
        self.connectedAt = connectedAt
        self.lastSeenAt = lastSeenAt
    }

    enum CodingKeys: String, CodingKey {
        case id, name, kind, labels, slots, version, online
        case ownerID = "owner_id"
        case connectedAt = "connected_at"
        case lastSeenAt = "last_seen_at"
    }
}

extension WorkerKind: DatabaseValueConvertible {}
extension JobStatus: DatabaseValueConvertible {}
extension JobTarget: DatabaseValueConvertible {}
