import Foundation
import Yams
import ZeroMQ

/// A deployment: which processes `agentos up` starts and supervises.
public struct Topology: Codable, Sendable, Equatable {
    /// The server's endpoints.
    public struct ServerSpec: Codable, Sendable, Equatable {
        /// Job bus endpoint.
        public var bus: String
        /// API endpoint.
        public var api: String
        /// Extra arguments for `agentos server`.
        public var args: [String]?

        /// Whether the bus runs CURVE, by the server's own rule: beyond loopback unless
        /// `--insecure-plaintext-bus`, on loopback with `--curve-on-loopback`.
        public var busUsesCurve: Bool { usesCurve(bus) }
        /// Whether the API socket runs CURVE, by the same rule.
        public var apiUsesCurve: Bool { usesCurve(api) }

        /// The server reads the flags from its `args` or from the environment it inherits.
        private func usesCurve(_ endpoint: String) -> Bool {
            let args = args ?? []
            let environment = ProcessInfo.processInfo.environment
            return Endpoint.isLocal(endpoint)
                ? args.contains("--curve-on-loopback") || environment["AGENTOS_CURVE_ON_LOOPBACK"] == "1"
                : !(args.contains("--insecure-plaintext-bus") || environment["AGENTOS_INSECURE_PLAINTEXT_BUS"] == "1")
        }
    }

    /// One gateway.
    public struct GatewaySpec: Codable, Sendable, Equatable {
        /// HOST:PORT.
        public var listen: String
    }

    /// A group of identical cloud workers.
    public struct WorkerGroup: Codable, Sendable, Equatable {
        /// Name prefix: workers are NAME-1, NAME-2, …
        public var name: String
        /// How many.
        public var count: Int
        /// Slots each.
        public var slots: Int?
        /// Labels each carries.
        public var labels: [String]?
    }

    /// This machine attached as the logged-in user's private worker (`agentos desktop attach`;
    /// log in with `agentos login` first).
    public struct DesktopSpec: Codable, Sendable, Equatable {
        /// Worker name; default HOST-desktop.
        public var name: String?
        /// Jobs run at once; default the number of CPUs.
        public var slots: Int?
        /// The server's public key, or a file holding it, when it cannot be pinned on first use.
        public var serverKey: String?
        /// Where the desktop's local sandbox service listens (`agentos desktop sandbox`, on
        /// loopback), when the topology runs one.
        public var sandbox: String?
        /// Folders shared with the user's private jobs (`desktop attach --dir PATH[:rw]`).
        public var dirs: [String]?

        enum CodingKeys: String, CodingKey {
            case name, slots, sandbox, dirs
            case serverKey = "server_key"
        }
    }

    /// The database the servers share, when not SQLite in the data directory.
    public struct DatabaseSpec: Codable, Sendable, Equatable {
        /// A PostgreSQL cluster `agentos up` runs itself, kept in `<data>/postgres` (made with
        /// `initdb` on first start), on loopback only.
        public var local: Bool?
        /// The local cluster's port; default 5433 (beside a system cluster on 5432).
        public var port: Int?
        /// An existing database instead: `postgres://USER@HOST:PORT/DATABASE` (the password
        /// from `PGPASSWORD`).
        public var url: String?
    }

    /// The topology's name.
    public var name: String
    /// The database, when the servers keep their state in PostgreSQL.
    public var database: DatabaseSpec?
    /// The server, if this topology runs one.
    public var server: ServerSpec?
    /// Several servers sharing the database (instead of `server`).
    public var servers: [ServerSpec]?

    /// Every server this topology runs.
    public var allServers: [ServerSpec] { servers ?? server.map { [$0] } ?? [] }
    /// Gateways.
    public var gateways: [GatewaySpec]?
    /// Worker groups.
    public var workers: [WorkerGroup]?
    /// The desktop, if this topology attaches one.
    public var desktop: DesktopSpec?

    /// Parses YAML, with a clear error for a bad file.
    public static func parse(_ yaml: String) throws -> Topology {
        let topology: Topology
        do {
            topology = try YAMLDecoder().decode(Topology.self, from: yaml)
        } catch {
            throw TopologyError(message: "invalid topology: \(error)")
        }
        for group in topology.workers ?? [] where group.count < 0 || group.count > 256 {
            throw TopologyError(message: "workers.\(group.name).count must be 0-256")
        }
        if topology.server != nil && topology.servers != nil {
            throw TopologyError(message: "give either server or servers, not both")
        }
        if topology.allServers.count > 1 && topology.database == nil {
            throw TopologyError(message: "several servers share one PostgreSQL database: add database (local: true, or url)")
        }
        if let database = topology.database {
            guard (database.local ?? false) != (database.url != nil) else {
                throw TopologyError(message: "database needs either local: true or url, not both")
            }
            if let port = database.port, !(1...65535).contains(port) { throw TopologyError(message: "database.port must be 1-65535") }
        }
        return topology
    }

    /// The built-in `single-node` topology (the same as `topology/single-node.yaml`).
    public static let singleNodeYAML = """
        # One machine, everything on loopback: a server, one gateway, two cloud workers.
        # `agentos up` runs this file when given no --topology (a copy is built into the binary).
        name: single-node
        server:
          bus: tcp://127.0.0.1:5555
          api: tcp://127.0.0.1:5556
        gateways:
          - listen: 127.0.0.1:8080
        workers:
          - name: cloud
            count: 2
            slots: 2
            labels: []

        """
}

/// A topology file that cannot be used.
public struct TopologyError: Error, CustomStringConvertible, Sendable {
    /// What is wrong.
    public let message: String
    public var description: String { message }
}
