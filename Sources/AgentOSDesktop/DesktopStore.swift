import AgentOSClient
import AgentOSWire
import Foundation
import GRDB

#if canImport(Glibc)
import Glibc
#endif

/// Where the desktop keeps its state: `$XDG_DATA_HOME/agentos` (default
/// `~/.local/share/agentos`), mode 0700. It holds `desktop.sqlite` (synced skills and agents,
/// local runs, the outbox) and the local sandbox service's token.
public struct DesktopDataDirectory: Sendable {
    /// The directory path.
    public let path: String

    /// The directory from the environment.
    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        if let xdg = environment["XDG_DATA_HOME"], !xdg.isEmpty {
            path = xdg + "/agentos"
        } else {
            path = (environment["HOME"] ?? NSHomeDirectory()) + "/.local/share/agentos"
        }
    }

    /// A directory at `path`.
    public init(path: String) {
        self.path = path
    }

    /// The database file.
    public var databasePath: String { path + "/desktop.sqlite" }

    /// Makes the directory when missing and keeps it 0700: it holds the user's runs.
    public func prepare() throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        guard chmod(path, 0o700) == 0 else {
            throw DesktopError("cannot make \(path) private (mode 0700): \(String(cString: strerror(errno)))")
        }
    }
}

/// A desktop failure, worded for the command line.
public struct DesktopError: Error, CustomStringConvertible, Sendable {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// The desktop's own database: what it synced, its local runs and their outbox. Every row
/// belongs to one account (`Account`), so two logins on one machine never mix.
public struct DesktopStore: Sendable {
    /// The GRDB writer (a WAL pool on disk, a queue in tests).
    public let writer: any DatabaseWriter

    /// Opens (creating and migrating) the store in `directory`.
    public static func open(_ directory: DesktopDataDirectory) throws -> DesktopStore {
        try directory.prepare()
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            // A run recorded is a run kept, even through a power cut: few writes, all of them worth it.
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        // Two processes opening a new store at once would both migrate it: one at a time.
        let lock = try FileLock(path: directory.path + "/migrate.lock")
        lock.acquireBlocking()
        defer { lock.release() }
        do {
            let pool = try DatabasePool(path: directory.databasePath, configuration: configuration)
            chmod(directory.databasePath, 0o600)
            return try DesktopStore(writer: pool)
        } catch let error as DatabaseError {
            throw DesktopError("cannot open the desktop's database \(directory.databasePath): \(error.message ?? "\(error)")")
        }
    }

    /// An empty in-memory store, for tests.
    public static func inMemory() throws -> DesktopStore {
        try DesktopStore(writer: DatabaseQueue())
    }

    /// Wraps a writer and applies every migration.
    public init(writer: any DatabaseWriter) throws {
        self.writer = writer
        try Self.migrator.migrate(writer)
    }

    /// Migrations never change once shipped: add a new one instead.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-desktop") { db in
            try db.create(table: "projects") { t in
                t.column("account", .text).notNull()
                t.column("id", .text).notNull()
                t.column("name", .text).notNull()
                t.column("role", .text)
                t.column("allow_network", .boolean).notNull()
                // False once the server stopped listing it for this account.
                t.column("accessible", .boolean).notNull()
                t.column("synced_at", .datetime).notNull()
                t.primaryKey(["account", "id"])
            }
            try db.create(table: "skill_versions") { t in
                t.column("account", .text).notNull()
                t.column("project_id", .text).notNull()
                t.column("skill", .text).notNull()
                t.column("version", .integer).notNull()
                t.column("description", .text).notNull()
                t.column("code", .text).notNull()
                t.column("entrypoint", .text).notNull()
                t.column("requirements", .text).notNull()
                t.column("input_schema", .text)
                t.column("limits", .text)
                t.column("content_hash", .text).notNull()
                t.column("created_at", .datetime).notNull()
                t.column("fetched_at", .datetime).notNull()
                t.primaryKey(["account", "project_id", "skill", "version"])
            }
            try db.create(table: "agents") { t in
                t.column("account", .text).notNull()
                t.column("project_id", .text).notNull()
                t.column("name", .text).notNull()
                t.column("version", .integer).notNull()
                t.column("provider", .text).notNull()
                t.column("model", .text).notNull()
                t.column("system_prompt", .text).notNull()
                t.column("skills", .text).notNull()
                t.column("params", .text).notNull()
                t.column("updated_at", .datetime).notNull()
                t.primaryKey(["account", "project_id", "name"])
            }
            // What the last sync of a project saw, so the next asks only for what changed since.
            try db.create(table: "sync_cursors") { t in
                t.column("account", .text).notNull()
                t.column("project_id", .text).notNull()
                t.column("kind", .text).notNull()
                t.column("since", .datetime).notNull()
                t.primaryKey(["account", "project_id", "kind"])
            }
            // Local runs; those with sync_state 'pending' are the outbox, pushed in seq order.
            try db.create(table: "runs") { t in
                t.autoIncrementedPrimaryKey("seq")
                t.column("id", .text).notNull().unique()
                t.column("account", .text).notNull()
                t.column("project_id", .text).notNull()
                t.column("project_name", .text).notNull()
                t.column("skill", .text).notNull()
                t.column("version", .integer).notNull()
                t.column("inputs", .text).notNull()
                t.column("folders", .text).notNull()
                t.column("status", .text).notNull()
                t.column("result", .text)
                t.column("stdout", .text).notNull()
                t.column("stderr", .text).notNull()
                t.column("output_truncated", .boolean).notNull()
                t.column("exit_code", .integer)
                t.column("error", .text)
                t.column("device", .text).notNull()
                // "pid:start time" of the process running it (`ProcessIdentity`).
                t.column("process", .text).notNull()
                t.column("started_at", .datetime).notNull()
                t.column("finished_at", .datetime)
                t.column("sync_state", .text).notNull()
                t.column("sync_attempts", .integer).notNull()
                t.column("sync_error", .text)
                t.column("server_job_id", .text)
                t.column("synced_at", .datetime)
            }
            try db.create(index: "runs_outbox", on: "runs", columns: ["account", "sync_state", "seq"])
        }
        return migrator
    }
}

/// Whose rows these are: one login (user id) at one gateway.
public struct Account: Sendable, Hashable, CustomStringConvertible {
    public let userID: String
    public let gateway: String

    public init(userID: String, gateway: String) {
        self.userID = userID
        self.gateway = gateway
    }

    /// The key stored in every row.
    public var key: String { "\(userID)@\(gateway)" }
    public var description: String { key }
}
