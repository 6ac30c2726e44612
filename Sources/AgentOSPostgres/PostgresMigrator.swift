import Logging
import PostgresNIO

/// Why a database could not be migrated.
public enum PostgresMigrationError: Error, Equatable, CustomStringConvertible {
    /// The database records migrations this binary does not know, in order from the first
    /// unknown one: it was migrated by a newer version, which this one must not run against.
    case unknownMigrations([String])

    /// The error as one line for the server's log and its exit message.
    public var description: String {
        switch self {
        case .unknownMigrations(let names):
            "the database has migrations this version does not know (\(names.joined(separator: ", "))): it was migrated by a newer AgentOS"
        }
    }
}

/// Applies ``PostgresMigration``s in order, once each, recording them in `agentos_migrations`.
///
/// Several servers may start on one database at once: the whole run holds a transaction-scoped
/// advisory lock, so one migrates while the others wait and then find nothing left to do.
/// PostgreSQL's DDL is transactional, so a run that fails leaves the database as it found it.
public struct PostgresMigrator: Sendable {
    /// The migrations, in the order they apply.
    public let migrations: [PostgresMigration]

    /// The advisory lock key the run holds ("AGENTOS" in ASCII).
    static let lockKey: Int64 = 0x41_47_45_4E_54_4F_53

    /// A migrator for `migrations`, by default the server's schema.
    public init(migrations: [PostgresMigration] = PostgresMigration.appStore) {
        self.migrations = migrations
    }

    /// Applies the migrations `connection`'s database has not had yet, in one transaction, and
    /// returns their names.
    @discardableResult
    public func migrate(_ connection: PostgresConnection, logger: Logger) async throws -> [String] {
        try await connection.query("BEGIN", logger: logger)
        do {
            try await connection.query("SELECT pg_advisory_xact_lock(\(Self.lockKey))", logger: logger)
            try await connection.query("""
                CREATE TABLE IF NOT EXISTS agentos_migrations (
                    position bigint PRIMARY KEY,
                    name text NOT NULL UNIQUE,
                    applied_at timestamptz NOT NULL DEFAULT now()
                )
                """, logger: logger)
            let applied = try await Self.names(connection, logger: logger)
            let known = migrations.map(\.name)
            guard applied.count <= known.count, Array(known.prefix(applied.count)) == applied else {
                let firstUnknown = applied.indices.first { $0 >= known.count || applied[$0] != known[$0] } ?? known.count
                throw PostgresMigrationError.unknownMigrations(Array(applied[firstUnknown...]))
            }
            let pending = migrations.enumerated().dropFirst(applied.count)
            for (position, migration) in pending {
                for statement in migration.statements {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query(
                    "INSERT INTO agentos_migrations (position, name) VALUES (\(position), \(migration.name))", logger: logger)
                logger.info("applied migration", metadata: ["migration": "\(migration.name)"])
            }
            try await connection.query("COMMIT", logger: logger)
            return pending.map { $0.element.name }
        } catch {
            _ = try? await connection.query("ROLLBACK", logger: logger)
            throw error
        }
    }

    /// The names of the migrations applied to `connection`'s database, in order; none when it
    /// has never been migrated.
    public static func appliedMigrations(_ connection: PostgresConnection, logger: Logger) async throws -> [String] {
        let rows = try await connection.query(
            "SELECT to_regclass('agentos_migrations') IS NOT NULL", logger: logger)
        var exists = false
        for try await present in rows.decode(Bool.self) { exists = present }
        return exists ? try await names(connection, logger: logger) : []
    }

    private static func names(_ connection: PostgresConnection, logger: Logger) async throws -> [String] {
        let rows = try await connection.query("SELECT name FROM agentos_migrations ORDER BY position", logger: logger)
        var names: [String] = []
        for try await name in rows.decode(String.self) { names.append(name) }
        return names
    }
}
