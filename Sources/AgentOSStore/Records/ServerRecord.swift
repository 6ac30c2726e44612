import Foundation
import GRDB

/// A server sharing the database: where workers and gateways reach it, and when it was last
/// heard from (it renews `heartbeat_at` with its jobs' leases).
public struct ServerRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "servers"

    /// Random per run of a server process: a restarted server is a new one.
    public var id: String
    /// The bus endpoint workers connect to.
    public var busEndpoint: String
    /// The API endpoint gateways connect to.
    public var apiEndpoint: String
    public var startedAt: Date
    public var heartbeatAt: Date

    public init(id: String, busEndpoint: String, apiEndpoint: String, startedAt: Date, heartbeatAt: Date) {
        self.id = id
        self.busEndpoint = busEndpoint
        self.apiEndpoint = apiEndpoint
        self.startedAt = startedAt
        self.heartbeatAt = heartbeatAt
    }

    enum CodingKeys: String, CodingKey {
        case id
        case busEndpoint = "bus_endpoint"
        case apiEndpoint = "api_endpoint"
        case startedAt = "started_at"
        case heartbeatAt = "heartbeat_at"
    }
}

/// Which server holds the jobs a bus batch assigns, and for how long without renewal.
public struct JobLease: Sendable, Equatable {
    /// The holding server's id.
    public let serverID: String
    /// How long the lease lasts from its last renewal.
    public let seconds: Double

    public init(serverID: String, seconds: Double) {
        self.serverID = serverID
        self.seconds = seconds
    }
}
