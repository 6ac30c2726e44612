import AgentOSPostgres
import AgentOSStore
import Foundation
import GRDB
import Logging
import PostgresNIO
import Testing

@Suite struct PostgresMigratorTests {
    let logger = LocalPostgres.logger

    @Test func migratesOnceInTheSameStepsAsSQLite() async throws {
        let sqliteSteps = try await SQLiteStore.inMemory().writer.read { db in
            try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations ORDER BY rowid")
        }
        try await LocalPostgres.with { cluster in
            let database = try await cluster.createDatabase()
            try await cluster.withConnection(database: database) { connection in
                #expect(try await PostgresMigrator.appliedMigrations(connection, logger: logger) == [])
                let applied = try await PostgresMigrator().migrate(connection, logger: logger)
                #expect(applied == sqliteSteps, "the same migrations, by name and order, in both engines")
                #expect(try await PostgresMigrator.appliedMigrations(connection, logger: logger) == sqliteSteps)
                #expect(try await PostgresMigrator().migrate(connection, logger: logger) == [], "a second run has nothing to do")
            }
        }
    }

    @Test func theSchemaHasSQLitesTablesColumnsAndIndexes() async throws {
        let sqlite = try sqliteSchema()
        try await LocalPostgres.with { cluster in
            let database = try await cluster.createDatabase()
            try await cluster.withConnection(database: database) { connection in
                try await PostgresMigrator().migrate(connection, logger: logger)
                let postgres = try await postgresSchema(connection)
                // PostgreSQL keeps files' bytes in `blobs`; SQLite's server keeps them on disk.
                #expect(Set(postgres.columns.keys) == Set(sqlite.columns.keys).union(["blobs"]), "the same tables, and blobs")
                for (table, columns) in sqlite.columns {
                    #expect(postgres.columns[table] == columns, "table \(table): same columns, types and nullability")
                }
                #expect(sqlite.indexes.isSubset(of: postgres.indexes), "every named index: missing \(sqlite.indexes.subtracting(postgres.indexes))")
                #expect(!postgres.indexes.contains("jobs_queue"), "v4 dropped it")
            }
        }
    }

    @Test func emailsAndTeamNamesAreUniqueIgnoringCase() async throws {
        try await LocalPostgres.with { cluster in
            let database = try await cluster.createDatabase()
            try await cluster.withConnection(database: database) { connection in
                try await PostgresMigrator().migrate(connection, logger: logger)
                try await connection.query("""
                    INSERT INTO users (id, email, name, password_hash, role, created_at)
                    VALUES ('u1', 'Owner@Example.com', 'Owner', 'x', 'admin', now())
                    """, logger: logger)
                await #expect(throws: PSQLError.self) {
                    _ = try await connection.query("""
                        INSERT INTO users (id, email, name, password_hash, role, created_at)
                        VALUES ('u2', 'owner@EXAMPLE.com', 'Other', 'x', 'user', now())
                        """, logger: logger)
                }
                let rows = try await connection.query("SELECT id FROM users WHERE email = \("OWNER@example.COM")", logger: logger)
                var ids: [String] = []
                for try await id in rows.decode(String.self) { ids.append(id) }
                #expect(ids == ["u1"], "found by email whatever its case")

                try await connection.query("INSERT INTO teams (id, name, created_by, created_at) VALUES ('t1', 'Ops', 'u1', now())", logger: logger)
                await #expect(throws: PSQLError.self) {
                    _ = try await connection.query("INSERT INTO teams (id, name, created_by, created_at) VALUES ('t2', 'OPS', 'u1', now())", logger: logger)
                }
            }
        }
    }

    @Test func aDatabaseFromANewerVersionIsRefusedAndLeftAsItWas() async throws {
        try await LocalPostgres.with { cluster in
            let database = try await cluster.createDatabase()
            try await cluster.withConnection(database: database) { connection in
                try await PostgresMigrator().migrate(connection, logger: logger)
                let older = PostgresMigrator(migrations: Array(PostgresMigration.appStore.dropLast(2)))
                await #expect(throws: PostgresMigrationError.unknownMigrations(PostgresMigration.appStore.suffix(2).map(\.name))) {
                    try await older.migrate(connection, logger: logger)
                }
                #expect(try await PostgresMigrator.appliedMigrations(connection, logger: logger).count == PostgresMigration.appStore.count)
            }
        }
    }

    @Test func aFailingMigrationLeavesNothingBehind() async throws {
        let broken = PostgresMigration(name: "v7-broken", statements: ["CREATE TABLE half_made (id text)", "SELECT no_such_function()"])
        try await LocalPostgres.with { cluster in
            let database = try await cluster.createDatabase()
            try await cluster.withConnection(database: database) { connection in
                await #expect(throws: PSQLError.self) {
                    try await PostgresMigrator(migrations: PostgresMigration.appStore + [broken]).migrate(connection, logger: logger)
                }
                #expect(try await PostgresMigrator.appliedMigrations(connection, logger: logger) == [], "the whole run rolled back")
                let rows = try await connection.query("SELECT to_regclass('users') IS NULL AND to_regclass('half_made') IS NULL", logger: logger)
                var clean: [Bool] = []
                for try await value in rows.decode(Bool.self) { clean.append(value) }
                #expect(clean == [true])
            }
        }
    }

    @Test func serversStartingTogetherMigrateOnce() async throws {
        try await LocalPostgres.with { cluster in
            let database = try await cluster.createDatabase()
            let runs = try await withThrowingTaskGroup(of: [String].self) { group in
                for _ in 0..<4 {
                    group.addTask {
                        try await cluster.withConnection(database: database) { connection in
                            try await PostgresMigrator().migrate(connection, logger: logger)
                        }
                    }
                }
                var runs: [[String]] = []
                for try await applied in group { runs.append(applied) }
                return runs
            }
            #expect(runs.filter { !$0.isEmpty } == [PostgresMigration.appStore.map(\.name)], "one run applies everything, the others nothing")
        }
    }

    // MARK: - Schemas, as comparable values

    struct Column: Hashable, CustomStringConvertible {
        let name: String
        let type: String
        let notNull: Bool
        var description: String { "\(name) \(type)\(notNull ? " not null" : "")" }
    }

    struct Schema {
        /// Per table, its columns.
        var columns: [String: Set<Column>] = [:]
        /// The indexes named in migrations (not those made for a primary key or a unique constraint).
        var indexes: Set<String> = []
    }

    /// The PostgreSQL type each of GRDB's column types becomes (`PostgresMigration.appStore`).
    static let postgresType: [String: String] = [
        "TEXT": "text", "INTEGER": "bigint", "DOUBLE": "double precision", "BOOLEAN": "boolean",
        "DATETIME": "timestamp with time zone", "BLOB": "bytea",
    ]

    /// The columns GRDB declares `.jsonText`: SQLite sees `TEXT`, PostgreSQL has them as `json`.
    static let jsonColumns: Set<String> = [
        "workers.labels", "jobs.inputs", "jobs.labels", "jobs.result", "jobs.dirs", "worker_tokens.labels",
        "skill_versions.input_schema", "skill_versions.limits", "providers.models", "agents.skills", "agents.params",
        "agent_versions.skills", "agent_versions.params", "audit_log.detail",
    ]

    func sqliteSchema() throws -> Schema {
        try SQLiteStore.inMemory().writer.read { db in
            var schema = Schema()
            let tables = try String.fetchAll(db, sql: """
                SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name != 'grdb_migrations'
                """)
            for table in tables {
                var columns = Set<Column>()
                for row in try Row.fetchAll(db, sql: "PRAGMA table_info(\(table))") {
                    let name: String = row["name"]
                    let declared: String = row["type"]
                    let isKey = (row["pk"] as Int) > 0
                    let type = Self.jsonColumns.contains("\(table).\(name)") && declared.uppercased() == "TEXT"
                        ? "json" : Self.postgresType[declared.uppercased()] ?? "unmapped \(declared)"
                    columns.insert(Column(name: name, type: type, notNull: (row["notnull"] as Bool) || isKey))
                }
                schema.columns[table] = columns
            }
            schema.indexes = Set(try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"))
            return schema
        }
    }

    func postgresSchema(_ connection: PostgresConnection) async throws -> Schema {
        var schema = Schema()
        let columns = try await connection.query("""
            SELECT table_name::text, column_name::text, data_type::text, is_nullable = 'NO'
            FROM information_schema.columns
            WHERE table_schema = current_schema() AND table_name != 'agentos_migrations'
            """, logger: logger)
        for try await (table, name, type, notNull) in columns.decode((String, String, String, Bool).self) {
            schema.columns[table, default: []].insert(Column(name: name, type: type, notNull: notNull))
        }
        let indexes = try await connection.query(
            "SELECT indexname::text FROM pg_indexes WHERE schemaname = current_schema()", logger: logger)
        for try await name in indexes.decode(String.self) { schema.indexes.insert(name) }
        return schema
    }
}
