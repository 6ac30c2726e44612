import Foundation
import GRDB

/// The server's database: migrations plus named reads and writes that keep its invariants.
public struct SQLiteStore: AppStore {
    /// The underlying GRDB writer (a WAL `DatabasePool` on disk, a `DatabaseQueue` in tests).
    public let writer: any DatabaseWriter

    /// Opens (creating if needed) the database file at `path` in WAL mode and migrates it.
    public static func open(path: String) throws -> SQLiteStore {
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
        }
        let pool = try DatabasePool(path: path, configuration: configuration)
        return try SQLiteStore(writer: pool)
    }

    /// An empty in-memory database, for tests.
    public static func inMemory() throws -> SQLiteStore {
        try SQLiteStore(writer: DatabaseQueue())
    }

    /// Wraps a writer and applies every migration.
    public init(writer: any DatabaseWriter) throws {
        self.writer = writer
        try Self.migrator.migrate(writer)
    }

    /// Migrations never change once shipped: add a new one instead.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-core") { db in
            try db.create(table: "users") { t in
                t.primaryKey("id", .text)
                t.column("email", .text).notNull().unique().collate(.nocase)
                t.column("name", .text).notNull()
                t.column("password_hash", .text).notNull()
                t.column("role", .text).notNull()
                t.column("disabled", .boolean).notNull().defaults(to: false)
                t.column("created_at", .datetime).notNull()
            }
            try db.create(table: "projects") { t in
                t.primaryKey("id", .text)
                t.column("name", .text).notNull().unique()
                t.column("created_by", .text).notNull().references("users")
                t.column("created_at", .datetime).notNull()
            }
            try db.create(table: "project_members") { t in
                t.column("project_id", .text).notNull().references("projects", onDelete: .cascade)
                t.column("user_id", .text).notNull().references("users", onDelete: .cascade)
                t.column("role", .text).notNull()
                t.primaryKey(["project_id", "user_id"])
            }
            try db.create(table: "worker_tokens") { t in
                t.primaryKey("id", .text)
                t.column("name", .text).notNull()
                t.column("token_hash", .text).notNull().unique()
                t.column("created_at", .datetime).notNull()
                t.column("revoked_at", .datetime)
            }
            try db.create(table: "workers") { t in
                t.primaryKey("id", .text)
                t.column("name", .text).notNull()
                t.column("kind", .text).notNull()
                t.column("owner_id", .text)
                t.column("labels", .jsonText).notNull()
                t.column("slots", .integer).notNull()
                t.column("version", .text).notNull()
                t.column("online", .boolean).notNull()
                t.column("connected_at", .datetime).notNull()
                t.column("last_seen_at", .datetime).notNull()
            }
            try db.create(table: "jobs") { t in
                t.primaryKey("id", .text)
                t.column("project_id", .text).notNull().references("projects", onDelete: .cascade)
                t.column("status", .text).notNull()
                t.column("origin", .text).notNull()
                t.column("code", .text).notNull()
                t.column("inputs", .jsonText).notNull()
                t.column("target", .text).notNull()
                t.column("requested_worker", .text)
                t.column("labels", .jsonText).notNull()
                t.column("timeout_s", .double).notNull()
                t.column("max_output_bytes", .integer).notNull()
                t.column("priority", .integer).notNull()
                t.column("max_attempts", .integer).notNull()
                t.column("attempts", .integer).notNull()
                t.column("worker_id", .text)
                t.column("worker_name", .text)
                t.column("submitted_by", .text).notNull()
                t.column("idempotency_key", .text)
                t.column("created_at", .datetime).notNull()
                t.column("queued_at", .datetime).notNull()
                t.column("started_at", .datetime)
                t.column("finished_at", .datetime)
                t.column("result", .jsonText)
                t.column("stdout", .text).notNull()
                t.column("stderr", .text).notNull()
                t.column("exit_code", .integer)
                t.column("error", .text)
                t.column("output_truncated", .boolean).notNull()
            }
            // The dispatcher's scan: queued jobs by priority, then submission order (dropped in v4).
            try db.create(index: "jobs_queue", on: "jobs", columns: ["status", "priority", "created_at"])
            try db.create(index: "jobs_worker", on: "jobs", columns: ["worker_id", "status"])
            // A project's job history, newest first.
            try db.create(index: "jobs_history", on: "jobs", columns: ["project_id", "created_at", "id"])
            // The queue-timeout sweep: queued jobs by time in the queue.
            try db.create(index: "jobs_age", on: "jobs", columns: ["status", "queued_at"])
            try db.create(
                index: "jobs_idempotency", on: "jobs", columns: ["project_id", "submitted_by", "idempotency_key"],
                options: .unique, condition: Column("idempotency_key") != nil)
        }
        migrator.registerMigration("v2-control-plane", migrate: Self.controlPlane)
        migrator.registerMigration("v3-sandbox") { db in
            // Network for a project's jobs is off until an admin turns it on.
            try db.alter(table: "projects") { t in
                t.add(column: "allow_network", .boolean).notNull().defaults(to: false)
            }
        }
        migrator.registerMigration("v4-queue-in-memory") { db in
            // The dispatcher keeps the queue in memory: its scan index only cost every status
            // change. The other two status indexes become partial, over the rows they serve
            // (queued jobs by age; running jobs by worker), so a job enters and leaves each once
            // in its life instead of being moved in both at every change of status.
            try db.drop(index: "jobs_queue")
            try db.drop(index: "jobs_age")
            try db.drop(index: "jobs_worker")
            try db.execute(sql: """
                CREATE INDEX jobs_queued ON jobs (queued_at) WHERE status = 'queued';
                CREATE INDEX jobs_running ON jobs (worker_id) WHERE status = 'running';
                """)
        }
        migrator.registerMigration("v5-bus-keys") { db in
            // The bus's ZAP handler finds the credential behind a connecting CURVE key.
            for table in ["worker_tokens", "personal_tokens"] {
                try db.alter(table: table) { t in t.add(column: "curve_key", .text) }
                try db.create(index: "\(table)_curve_key", on: table, columns: ["curve_key"], options: .unique, condition: Column("curve_key") != nil)
            }
        }
        migrator.registerMigration("v6-job-dirs") { db in
            // The folders a private job sees at /mnt/<name>, by the names its desktop shares them under.
            try db.alter(table: "jobs") { t in
                t.add(column: "dirs", .jsonText).notNull().defaults(to: "[]")
            }
        }
        migrator.registerMigration("v7-leases") { db in
            // The servers sharing the database, and which one holds each running job until when.
            try db.create(table: "servers") { t in
                t.primaryKey("id", .text)
                t.column("bus_endpoint", .text).notNull()
                t.column("api_endpoint", .text).notNull()
                t.column("started_at", .datetime).notNull()
                t.column("heartbeat_at", .datetime).notNull()
            }
            try db.alter(table: "jobs") { t in
                t.add(column: "server_id", .text)
                t.add(column: "lease_until", .datetime)
            }
            try db.execute(sql: "CREATE INDEX jobs_leases ON jobs (lease_until) WHERE status = 'running'")
        }
        migrator.registerMigration("v8-blobs") { _ in
            // PostgreSQL's blobs table: a server on SQLite keeps files' bytes in its data
            // directory. Empty here, so that both engines' migrations keep the same names.
        }
        return migrator
    }
}

extension FetchableRecord where Self: TableRecord {
    /// The record whose `id` column is `id`, read with a statement compiled once per
    /// connection: lookups on every request (the caller, the project, the job) should not pay
    /// for preparing their SQL each time.
    static func fetchCached(_ db: Database, id: String) throws -> Self? {
        try fetchOne(db.cachedStatement(sql: "SELECT * FROM \(databaseTableName) WHERE id = ?"), arguments: [id])
    }
}
