import AgentOSWire
import Foundation

extension Schemas {
    /// A connected worker.
    public struct Worker: APISchema, Equatable {
        public static var fieldSchemas: [String: JSONValue] {
            [
                "folders": ["description": "A private worker's shared folders, by the names jobs give in `dirs`; absent for a cloud worker"],
            ]
        }

        public var id: String
        public var name: String
        public var kind: WorkerKind
        @Nullable public var ownerID: String?
        public var labels: [String]
        public var slots: Int
        public var running: Int
        public var freeSlots: Int
        public var draining: Bool
        public var version: String
        public var connectedAt: Date
        public var lastSeenAt: Date
        /// The worker token a cloud worker connected with (`GET /worker-tokens`), so an admin
        /// rotating tokens sees who still uses the old one; null for a private worker.
        @Nullable public var workerTokenID: String?
        /// The names of the folders a private worker (a desktop's `--dir`) shares, which its
        /// jobs may name in `dirs`; absent for a cloud worker.
        public var folders: [String]?

        public init(
            id: String, name: String, kind: WorkerKind, ownerID: String? = nil, labels: [String], slots: Int,
            running: Int, freeSlots: Int, draining: Bool, version: String, connectedAt: Date, lastSeenAt: Date,
            workerTokenID: String? = nil, folders: [String]? = nil
        ) {
            self.id = id
            self.name = name
            self.kind = kind
            self.ownerID = ownerID
            self.labels = labels
            self.slots = slots
            self.running = running
            self.freeSlots = freeSlots
            self.draining = draining
            self.version = version
            self.connectedAt = connectedAt
            self.lastSeenAt = lastSeenAt
            self.workerTokenID = workerTokenID
            self.folders = folders
        }

        enum CodingKeys: String, CodingKey {
            case id
            case name
            case kind
            case ownerID = "owner_id"
            case workerTokenID = "worker_token_id"
            case labels
            case slots
            case running
            case freeSlots = "free_slots"
            case draining
            case version
            case connectedAt = "connected_at"
            case lastSeenAt = "last_seen_at"
            case folders
        }
    }

    /// What the connected cloud workers offer together.
    public struct CloudCapacity: APISchema, Equatable {
        public var workers: Int
        public var slots: Int
        public var freeSlots: Int

        public init(
            workers: Int, slots: Int, freeSlots: Int
        ) {
            self.workers = workers
            self.slots = slots
            self.freeSlots = freeSlots
        }

        enum CodingKeys: String, CodingKey {
            case workers
            case slots
            case freeSlots = "free_slots"
        }
    }

    /// `GET /workers`: an admin sees every worker, a user their own private ones.
    public struct WorkerList: APISchema, Equatable {
        public static var fieldSchemas: [String: JSONValue] {
            [
                "workers": ["description": "One page, by id; the `cloud` summary counts all cloud workers"],
                "next_cursor": ["description": "Pass as `cursor` for the next page; null on the last"],
            ]
        }

        public var workers: [Worker]
        public var cloud: CloudCapacity
        @Nullable public var nextCursor: String?

        public init(
            workers: [Worker], cloud: CloudCapacity, nextCursor: String? = nil
        ) {
            self.workers = workers
            self.cloud = cloud
            self.nextCursor = nextCursor
        }

        enum CodingKeys: String, CodingKey {
            case workers, cloud
            case nextCursor = "next_cursor"
        }
    }

    /// A cloud worker token; `token` (the secret) only in the response that creates it.
    public struct WorkerToken: APISchema, Equatable {
        public static var fieldSchemas: [String: JSONValue] {
            [
                "token": ["description": "Only in the creation response"],
            ]
        }

        public var id: String
        public var name: String
        @Nullable public var labels: [String]?
        public var token: String?
        public var createdAt: Date
        @Nullable public var revokedAt: Date?
        public var revoked: Bool

        public init(
            id: String, name: String, labels: [String]? = nil, token: String? = nil, createdAt: Date,
            revokedAt: Date? = nil, revoked: Bool
        ) {
            self.id = id
            self.name = name
            self.labels = labels
            self.token = token
            self.createdAt = createdAt
            self.revokedAt = revokedAt
            self.revoked = revoked
        }

        enum CodingKeys: String, CodingKey {
            case id
            case name
            case labels
            case token
            case createdAt = "created_at"
            case revokedAt = "revoked_at"
            case revoked
        }
    }

    /// `GET /worker-tokens`.
    public struct WorkerTokenList: APISchema, Equatable {
        public var workerTokens: [WorkerToken]

        public init(
            workerTokens: [WorkerToken]
        ) {
            self.workerTokens = workerTokens
        }

        enum CodingKeys: String, CodingKey {
            case workerTokens = "worker_tokens"
        }
    }

    /// `POST /worker-tokens`: with `labels`, workers using it may only carry those.
    public struct CreateWorkerTokenRequest: APISchema, Equatable {
        public static var fieldSchemas: [String: JSONValue] {
            [
                "name": ["maxLength": 100],
            ]
        }

        public var name: String
        public var labels: [String]?

        public init(
            name: String, labels: [String]? = nil
        ) {
            self.name = name
            self.labels = labels
        }
    }

    /// `GET /cluster`: where the bus is, for desktops.
    public struct Cluster: APISchema, Equatable {
        public var bus: [String]
        @Nullable public var curvePublicKey: String?
        public var heartbeatMS: Int
        public var serverVersion: String

        public init(
            bus: [String], curvePublicKey: String? = nil, heartbeatMS: Int, serverVersion: String
        ) {
            self.bus = bus
            self.curvePublicKey = curvePublicKey
            self.heartbeatMS = heartbeatMS
            self.serverVersion = serverVersion
        }

        enum CodingKeys: String, CodingKey {
            case bus
            case curvePublicKey = "curve_public_key"
            case heartbeatMS = "heartbeat_ms"
            case serverVersion = "server_version"
        }
    }

    /// `GET /health`.
    public struct Health: APISchema, Equatable {
        public var status: String
        public var serverVersion: String
        public var workers: Int

        public init(
            status: String, serverVersion: String, workers: Int
        ) {
            self.status = status
            self.serverVersion = serverVersion
            self.workers = workers
        }

        enum CodingKeys: String, CodingKey {
            case status
            case serverVersion = "server_version"
            case workers
        }
    }

    /// The gateway's `GET /healthz`: `ok` with the server's health, or `unavailable` with why.
    public struct GatewayHealth: APISchema, Equatable {
        public static var fieldSchemas: [String: JSONValue] {
            [
                "status": ["enum": ["ok", "unavailable"]],
            ]
        }

        public var status: String
        public var server: Health?
        public var error: ErrorBody.Detail?

        public init(
            status: String, server: Health? = nil, error: ErrorBody.Detail? = nil
        ) {
            self.status = status
            self.server = server
            self.error = error
        }
    }
}
