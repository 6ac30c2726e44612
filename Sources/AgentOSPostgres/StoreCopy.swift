import AgentOSAuth
import AgentOSStore
import Crypto
import Foundation
import GRDB
import Logging
import PostgresNIO

/// `agentos store copy`: a single server's SQLite database and the bytes of its files, copied
/// into an empty PostgreSQL database in one transaction, then checked table by table by row
/// counts and a hash of every row, read back from both sides.
public struct StoreCopy {
    /// What was copied, per table.
    public struct TableReport: Sendable, Equatable {
        public let table: String
        public let rows: Int
        /// SHA-256 over the table's rows in primary-key order, each column in a canonical
        /// form, the same whichever engine it is read from.
        public let sourceHash: String
        public let targetHash: String
        public var matches: Bool { sourceHash == targetHash }
    }

    /// Why a copy did not happen or did not check out.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Tables in an order that satisfies every foreign key; `servers` (live servers) and the
    /// jobs' leases are not copied: a copy is made with the server stopped.
    static let tables = [
        "users", "teams", "team_members", "projects", "project_members", "worker_tokens", "personal_tokens",
        "auth_sessions", "refresh_tokens", "skills", "skill_versions", "providers", "agents", "agent_versions",
        "chat_sessions", "chat_messages", "jobs", "files", "job_files", "workers", "audit_log",
    ]

    let source: SQLiteStore
    let blobDirectory: String
    let target: PostgresStore

    /// A copy from `source` (with its files' bytes under `blobDirectory`) into `target`.
    public init(source: SQLiteStore, blobDirectory: String, target: PostgresStore) {
        self.source = source
        self.blobDirectory = blobDirectory
        self.target = target
    }

    /// Copies everything, or nothing if any part fails; refuses a target that already holds
    /// users. Returns the per-table check, blobs included.
    public func run() throws -> [TableReport] {
        guard try !target.hasUsers() else {
            throw Failure(description: "the target database already has users: store copy fills an empty database only")
        }
        let columns = try target.columnTypes()
        try target.write { db in
            for table in Self.tables {
                guard let types = columns[table] else { throw Failure(description: "the target has no table \(table)") }
                try await copyRows(of: table, types: types, into: db)
            }
            try await copyBlobs(into: db)
            // New audit entries continue after the copied ones.
            try await db.query(
                "SELECT setval(pg_get_serial_sequence('audit_log', 'seq'), COALESCE((SELECT max(seq) FROM audit_log), 0) + 1, false)",
                logger: target.logger)
        }
        return try check(columns: columns)
    }

    /// Inserts the source's rows of `table`, a page at a time, converting each value to the
    /// target column's type.
    private func copyRows(of table: String, types: [String: String], into db: PostgresConnection) async throws {
        // Pages by rowid, each read where the last ended (an OFFSET would rescan the table).
        var last: Int64 = .min
        let page = 500
        while true {
            let rows = try await source.writer.read { db in
                try Row.fetchAll(
                    db, sql: "SELECT rowid AS agentos_rowid, * FROM \(table) WHERE rowid > ? ORDER BY rowid LIMIT ?", arguments: [last, page])
            }
            for row in rows {
                last = row["agentos_rowid"]
                let names = Array(row.columnNames.filter { types[$0] != nil && !Self.skipped.contains("\(table).\($0)") })
                var bindings = PostgresBindings(capacity: names.count)
                for name in names { try Self.bind(row[name] as DatabaseValue, as: types[name]!, column: "\(table).\(name)", into: &bindings) }
                let placeholders = names.indices.map { "$\($0 + 1)" }.joined(separator: ", ")
                try await db.query(
                    PostgresQuery(unsafeSQL: "INSERT INTO \(table) (\(names.joined(separator: ", "))) VALUES (\(placeholders))", binds: bindings),
                    logger: target.logger)
            }
            guard rows.count == page else { return }
        }
    }

    /// Columns not carried over: which server held a running job, and until when.
    static let skipped: Set<String> = ["jobs.server_id", "jobs.lease_until"]

    private static func bind(_ value: DatabaseValue, as type: String, column: String, into bindings: inout PostgresBindings) throws {
        if value.isNull { return bindings.appendNull() }
        switch type {
        case "text":
            guard let text = String.fromDatabaseValue(value) else { throw mismatch(column, type) }
            bindings.append(text)
        case "json":
            guard let text = String.fromDatabaseValue(value) else { throw mismatch(column, type) }
            bindings.append(JSONText(text: Data(text.utf8)))
        case "bigint":
            guard let number = Int.fromDatabaseValue(value) else { throw mismatch(column, type) }
            bindings.append(number)
        case "double precision":
            guard let number = Double.fromDatabaseValue(value) else { throw mismatch(column, type) }
            bindings.append(number)
        case "boolean":
            guard let flag = Bool.fromDatabaseValue(value) else { throw mismatch(column, type) }
            bindings.append(flag)
        case "timestamp with time zone":
            guard let date = Date.fromDatabaseValue(value) else { throw mismatch(column, type) }
            bindings.append(date)
        case "bytea":
            guard let data = Data.fromDatabaseValue(value) else { throw mismatch(column, type) }
            try bindings.append(data)
        default:
            throw Failure(description: "\(column): no copy for the type \(type)")
        }
    }

    private static func mismatch(_ column: String, _ type: String) -> Failure {
        Failure(description: "\(column) holds a value that is not \(type)")
    }

    /// The bytes of every file, from the data directory into `blobs`.
    private func copyBlobs(into db: PostgresConnection) async throws {
        let hashes = try await source.writer.read { db in try String.fetchAll(db, sql: "SELECT DISTINCT sha256 FROM files ORDER BY sha256") }
        for sha256 in hashes {
            let path = "\(blobDirectory)/\(sha256.prefix(2))/\(sha256)"
            guard let data = FileManager.default.contents(atPath: path) else {
                throw Failure(description: "the bytes of file \(sha256) are missing from \(blobDirectory)")
            }
            guard ContentHash.sha256Hex(data) == sha256 else {
                throw Failure(description: "\(path) does not hold the bytes its name says (its SHA-256 differs)")
            }
            try await db.query("INSERT INTO blobs (sha256, size, data) VALUES (\(sha256), \(data.count), \(data))", logger: target.logger)
        }
    }

    // MARK: Checking

    /// Compares every table (and the blobs) of both stores, as they are now.
    func check(columns: [String: [String: String]]) throws -> [TableReport] {
        var reports: [TableReport] = []
        for table in Self.tables {
            let types = columns[table]!.filter { !Self.skipped.contains("\(table).\($0.key)") }
            let keys = try target.primaryKey(of: table)
            let names = types.keys.sorted()
            // Both in SQLite's binary order of the key.
            let order = keys.joined(separator: ", ")
            let binaryOrder = keys.map { types[$0] == "text" ? "\($0) COLLATE \"C\"" : $0 }.joined(separator: ", ")
            // Rows are hashed as they are read: a long job history is never held whole.
            let sourceDigest = try source.writer.read { db in
                var digest = RowDigest()
                let rows = try Row.fetchCursor(db, sql: "SELECT \(names.joined(separator: ", ")) FROM \(table) ORDER BY \(order)")
                while let row = try rows.next() {
                    digest.add(try names.map { try Self.canonical(row[$0] as DatabaseValue, type: types[$0]!) })
                }
                return digest
            }
            let targetDigest = try target.canonicalDigest(of: table, columns: names, types: types, orderBy: binaryOrder)
            reports.append(TableReport(
                table: table, rows: targetDigest.rows, sourceHash: sourceDigest.hex, targetHash: targetDigest.hex))
            if sourceDigest.rows != targetDigest.rows {
                throw Failure(description: "\(table): \(sourceDigest.rows) rows in SQLite, \(targetDigest.rows) in PostgreSQL")
            }
        }
        var sourceBlobs = RowDigest(), targetBlobs = RowDigest()
        for hash in try source.writer.read({ db in try String.fetchAll(db, sql: "SELECT DISTINCT sha256 FROM files ORDER BY sha256") }) {
            sourceBlobs.add([hash])
        }
        for digest in try target.blobDigests() { targetBlobs.add([digest]) }
        reports.append(TableReport(table: "blobs", rows: targetBlobs.rows, sourceHash: sourceBlobs.hex, targetHash: targetBlobs.hex))
        return reports
    }

    /// A value as text the same from either engine: times in milliseconds since 1970, JSON
    /// re-encoded with sorted keys, bytes in hex.
    static func canonical(_ value: DatabaseValue, type: String) throws -> String {
        if value.isNull { return "∅" }
        switch type {
        case "timestamp with time zone":
            guard let date = Date.fromDatabaseValue(value) else { return "?" }
            return String(Int64((date.timeIntervalSince1970 * 1000).rounded()))
        case "boolean": return (Bool.fromDatabaseValue(value) ?? false) ? "t" : "f"
        case "json": return canonicalJSON(String.fromDatabaseValue(value) ?? "")
        case "bytea": return (Data.fromDatabaseValue(value) ?? Data()).map { String(format: "%02x", $0) }.joined()
        case "double precision": return String(Double.fromDatabaseValue(value) ?? .nan)
        default: return String.fromDatabaseValue(value) ?? "\(value)"
        }
    }

    static func canonicalJSON(_ text: String) -> String {
        guard let value = try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed]),
            let data = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .fragmentsAllowed])
        else { return text }
        return String(decoding: data, as: UTF8.self)
    }

}

/// SHA-256 over rows of canonical values, fed one row at a time, and how many there were.
struct RowDigest {
    private var hasher = SHA256()
    private(set) var rows = 0

    mutating func add(_ values: [String]) {
        hasher.update(data: Data((values.joined(separator: "\u{1F}") + "\u{1E}").utf8))
        rows += 1
    }

    var hex: String { hasher.finalize().map { String(format: "%02x", $0) }.joined() }
}

extension PostgresStore {
    /// Each table's columns and their types (`information_schema`'s `data_type`).
    func columnTypes() throws -> [String: [String: String]] {
        try read { db in
            var tables: [String: [String: String]] = [:]
            let rows = try await db.query("""
                SELECT table_name::text, column_name::text, data_type::text FROM information_schema.columns
                WHERE table_schema = current_schema()
                """, logger: logger)
            for try await (table, column, type) in rows.decode((String, String, String).self) { tables[table, default: [:]][column] = type }
            return tables
        }
    }

    /// The primary-key columns of `table`, in key order.
    func primaryKey(of table: String) throws -> [String] {
        try read { db in
            try await db.column(String.self, """
                SELECT a.attname::text FROM pg_index i
                JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
                WHERE i.indrelid = \(table)::regclass AND i.indisprimary
                ORDER BY array_position(i.indkey, a.attnum)
                """, logger: logger)
        }
    }

    /// The digest of `table`'s rows, in `orderBy` order, each column in `StoreCopy.canonical`'s form.
    func canonicalDigest(of table: String, columns: [String], types: [String: String], orderBy: String) throws -> RowDigest {
        // Each column read as text in the canonical form, by the database itself.
        let expressions = columns.map { column -> String in
            switch types[column] {
            case "timestamp with time zone": "COALESCE((round(extract(epoch FROM \(column)) * 1000))::bigint::text, '∅')"
            case "boolean": "COALESCE(CASE WHEN \(column) THEN 't' ELSE 'f' END, '∅')"
            case "bytea": "COALESCE(encode(\(column), 'hex'), '∅')"
            case "double precision": "COALESCE(\(column)::text, '∅')"
            default: "COALESCE(\(column)::text, '∅')"
            }
        }
        let sql = "SELECT \(expressions.joined(separator: ", ")) FROM \(table) ORDER BY \(orderBy)"
        return try read { db in
            var digest = RowDigest()
            for try await row in try await db.query(PostgresQuery(unsafeSQL: sql), logger: logger) {
                let random = row.makeRandomAccess()
                var values: [String] = []
                for (index, column) in columns.enumerated() {
                    let text = try random[index].decode(String.self)
                    switch types[column] {
                    case "json" where text != "∅": values.append(StoreCopy.canonicalJSON(text))
                    case "double precision" where text != "∅": values.append(String(Double(text) ?? .nan))
                    default: values.append(text)
                    }
                }
                digest.add(values)
            }
            return digest
        }
    }

    /// The SHA-256 of every blob's bytes, computed from the bytes themselves, in order.
    func blobDigests() throws -> [String] {
        try read { db in
            try await db.column(String.self, "SELECT encode(sha256(data), 'hex') FROM blobs ORDER BY sha256", logger: logger)
        }
    }
}
