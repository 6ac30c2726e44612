import AgentOSStore
import Foundation
import Logging
import PostgresNIO
import Synchronization

/// The store on PostgreSQL, which several servers may share: the same named reads and writes
/// as ``SQLiteStore`` over the same schema (``PostgresMigration/appStore``).
///
/// postgres-nio is asynchronous and the store's contract is not (see ``AppStore``): each call
/// runs as a task on the store's own threads (`executor`) while its caller waits. Those
/// threads only ever wait on the network, so a caller never waits for a thread that is
/// itself waiting; the connection pool (`PostgresClient`) runs on them too.
public final class PostgresStore: AppStore, Sendable {
    let client: PostgresClient
    let logger: Logger
    let location: PostgresLocation
    /// The notifications this store listens to, once a server asks (`startEvents`).
    let events: EventListener
    private let executor: ThreadPoolExecutor
    private let runner: Task<Void, Never>
    /// Set by `close()`: a call after it fails at once (the store's threads are gone).
    private let closed = Atomic<Bool>(false)

    /// Connects to the database `location` names and migrates it. Fails when the database
    /// cannot be reached within `timeout` or was migrated by a newer version.
    public static func open(_ location: PostgresLocation, logger: Logger, timeout: Duration = .seconds(30)) throws -> PostgresStore {
        let store = PostgresStore(location: location, logger: logger)
        do {
            _ = try store.wait {
                try await store.withConnection(timeout: timeout) { connection in
                    try await PostgresMigrator().migrate(connection, logger: logger)
                }
            }
            return store
        } catch {
            store.close()
            throw error
        }
    }

    private init(location: PostgresLocation, logger: Logger) {
        var options = PostgresClient.Configuration.Options()
        options.maximumConnections = location.maximumConnections
        options.minimumConnections = 1
        options.keepAliveBehavior = .init(frequency: .seconds(30))
        let configuration = PostgresClient.Configuration(location: location, options: options)
        let executor = ThreadPoolExecutor(threads: 2, name: "agentos-postgres")
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.client = client
        self.logger = logger
        self.location = location
        self.events = EventListener(executor: executor)
        self.executor = executor
        // Detached: the pool lives until `close()`, not until the graceful shutdown of whatever
        // service group opened the store (ServiceLifecycle's signal is a task-local that an
        // attached task would inherit, and the server's last commits come after it).
        self.runner = Task.detached(executorPreference: executor) { await client.run() }
    }

    /// Closes the pool's connections and stops the store's threads.
    public func close() {
        closed.store(true, ordering: .relaxed)
        events.stop()
        runner.cancel()
        executor.shutdown()
    }

    deinit {
        events.stop()
        runner.cancel()
        executor.shutdown()
    }

    // MARK: Running calls

    /// Runs `body` on the store's threads and waits for it: the bridge between the synchronous
    /// contract and postgres-nio.
    func wait<T>(_ body: () async throws -> T) throws -> T {
        precondition(!executor.runsCurrentThread, "a PostgresStore call waited on the store's own thread")
        guard !closed.load(ordering: .relaxed) else { throw PostgresStoreError.unreachable("the store is closed") }
        return try withoutActuallyEscaping(body) { body in
            let call = WaitingCall(body: body)
            Task.detached(executorPreference: executor) { await call.run() }
            return try call.result()
        }
    }

    /// Runs `body` with a pooled connection, failing if none is had within `timeout` (the pool
    /// itself waits for as long as the database is unreachable, retrying).
    func withConnection<T: Sendable>(timeout: Duration, _ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await self.client.withConnection { connection in try await body(connection) } }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let value = first else {
                throw PostgresStoreError.unreachable("no connection to the database within \(timeout)")
            }
            return value
        }
    }

    /// One read: `body` with a pooled connection, outside any transaction.
    func read<T>(_ body: (PostgresConnection) async throws -> T) throws -> T {
        try wait { try await client.withConnection { connection in try await body(connection) } }
    }

    /// One write: `body` in a transaction, committed when it returns, rolled back when it
    /// throws. The methods that expect a unique violation map it (`mappingConflict`).
    func write<T>(_ body: (PostgresConnection) async throws -> T) throws -> T {
        try wait {
            try await client.withConnection { connection in
                try await connection.query("BEGIN", logger: logger)
                do {
                    let value = try await body(connection)
                    try await connection.query("COMMIT", logger: logger)
                    return value
                } catch {
                    _ = try? await connection.query("ROLLBACK", logger: logger)
                    throw error
                }
            }
        }
    }
}

/// A call a synchronous caller waits for: the body runs once as a task, and the caller
/// blocks until it has stored its outcome. Unchecked: the caller's closure and result cross
/// threads only while the caller is blocked on `done`, which orders every access.
private final class WaitingCall<T>: @unchecked Sendable {
    /// The caller's closure, let go of before the caller resumes (it must not outlive the call).
    private var body: (() async throws -> T)?
    private var outcome: Result<T, any Error>?
    private let done = DispatchSemaphore(value: 0)

    init(body: @escaping () async throws -> T) {
        self.body = body
    }

    func run() async {
        await execute()
        done.signal()
    }

    private func execute() async {
        guard let body else { return }
        self.body = nil
        do {
            outcome = .success(try await body())
        } catch {
            outcome = .failure(error)
        }
    }

    func result() throws -> T {
        done.wait()
        return try outcome!.get()
    }
}

// MARK: - Statements

extension PostgresConnection {
    /// Every row of `query` as a `T`, decoded by column name.
    func all<T: Decodable>(_ type: T.Type, _ query: PostgresQuery, logger: Logger) async throws -> [T] {
        var records: [T] = []
        for try await row in try await self.query(query, logger: logger) {
            records.append(try T(from: RowDecoder(row: row.makeRandomAccess())))
        }
        return records
    }

    /// The first row of `query` as a `T`, if any.
    func one<T: Decodable>(_ type: T.Type, _ query: PostgresQuery, logger: Logger) async throws -> T? {
        try await all(type, query, logger: logger).first
    }

    /// The first column of every row of `query`.
    func column<T: PostgresDecodable & Sendable>(_ type: T.Type, _ query: PostgresQuery, logger: Logger) async throws -> [T] {
        var values: [T] = []
        for try await value in try await self.query(query, logger: logger).decode(T.self) { values.append(value) }
        return values
    }

    /// The first column of the first row of `query`, if any.
    func scalar<T: PostgresDecodable & Sendable>(_ type: T.Type, _ query: PostgresQuery, logger: Logger) async throws -> T? {
        try await column(type, query, logger: logger).first
    }

    /// Runs `query` and returns how many rows it returned: with `RETURNING 1`, how many it changed.
    @discardableResult
    func run(_ query: PostgresQuery, logger: Logger) async throws -> Int {
        var count = 0
        for try await _ in try await self.query(query, logger: logger) { count += 1 }
        return count
    }

    /// Holds, until the transaction ends, a lock on `name` (compared ignoring case) within
    /// `scope`: how a check that no such name exists stays true until the insert commits.
    func lockName(_ scope: String, _ name: String, logger: Logger) async throws {
        try await self.query("SELECT pg_advisory_xact_lock(hashtextextended(\(scope) || ':' || lower(\(name)), 0))", logger: logger)
    }

    /// Inserts `record` into `table`, every column it encodes but those in `omittingNull`
    /// that are NULL (left to the column's default: an identity).
    func insert(_ record: some Encodable, into table: String, omittingNull: Set<String> = [], logger: Logger) async throws {
        var (names, values) = try RecordEncoder.columns(of: record)
        for index in names.indices.reversed() where omittingNull.contains(names[index]) {
            if case .null = values[index] {
                names.remove(at: index)
                values.remove(at: index)
            }
        }
        var bindings = PostgresBindings(capacity: values.count)
        for value in values { try value.append(to: &bindings) }
        let placeholders = (1...values.count).map { "$\($0)" }.joined(separator: ", ")
        let sql = "INSERT INTO \(table) (\(names.joined(separator: ", "))) VALUES (\(placeholders))"
        try await self.query(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: logger)
    }

    /// Inserts `records` (all of one type) into `table` in as few statements as the protocol's
    /// limit of 65,535 parameters allows.
    func insertAll<Record: Encodable>(_ records: [Record], into table: String, logger: Logger) async throws {
        guard let first = records.first else { return }
        let names = try RecordEncoder.columns(of: first).names
        let perStatement = max(1, 65_535 / names.count)
        var start = 0
        while start < records.count {
            let chunk = records[start..<min(records.count, start + perStatement)]
            var bindings = PostgresBindings(capacity: chunk.count * names.count)
            var rows: [String] = []
            for record in chunk {
                let (recordNames, values) = try RecordEncoder.columns(of: record)
                precondition(recordNames == names, "records of one type encode the same columns")
                let base = bindings.count
                for value in values { try value.append(to: &bindings) }
                rows.append("(" + (1...values.count).map { "$\(base + $0)" }.joined(separator: ", ") + ")")
            }
            let sql = "INSERT INTO \(table) (\(names.joined(separator: ", "))) VALUES \(rows.joined(separator: ", "))"
            try await self.query(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: logger)
            start += chunk.count
        }
    }

    /// Writes every column of `record` over the row of `table` whose `key` columns equal the
    /// record's; returns whether there was such a row.
    @discardableResult
    func update(_ record: some Encodable, in table: String, key: [String] = ["id"], logger: Logger) async throws -> Bool {
        let (names, values) = try RecordEncoder.columns(of: record)
        var bindings = PostgresBindings(capacity: values.count)
        for value in values { try value.append(to: &bindings) }
        let assignments = names.enumerated().filter { !key.contains($0.element) }.map { "\($0.element) = $\($0.offset + 1)" }
        let conditions = key.map { column in "\(column) = $\(names.firstIndex(of: column)! + 1)" }
        let sql = "UPDATE \(table) SET \(assignments.joined(separator: ", ")) WHERE \(conditions.joined(separator: " AND ")) RETURNING 1"
        return try await run(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: logger) == 1
    }

    /// Inserts `record`, or overwrites the row with the same `key` columns.
    func upsert(_ record: some Encodable, into table: String, key: [String] = ["id"], logger: Logger) async throws {
        let (names, values) = try RecordEncoder.columns(of: record)
        var bindings = PostgresBindings(capacity: values.count)
        for value in values { try value.append(to: &bindings) }
        let placeholders = (1...values.count).map { "$\($0)" }.joined(separator: ", ")
        let assignments = names.filter { !key.contains($0) }.map { "\($0) = EXCLUDED.\($0)" }
        let sql = """
            INSERT INTO \(table) (\(names.joined(separator: ", "))) VALUES (\(placeholders))
            ON CONFLICT (\(key.joined(separator: ", "))) DO UPDATE SET \(assignments.joined(separator: ", "))
            """
        try await self.query(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: logger)
    }
}

// MARK: - Errors

/// Why the PostgreSQL store cannot serve.
public enum PostgresStoreError: Error, CustomStringConvertible {
    /// No connection could be made.
    case unreachable(String)

    public var description: String {
        switch self {
        case .unreachable(let message): message
        }
    }
}

extension PSQLError {
    /// The SQLSTATE the server answered with, if it did.
    var sqlState: String? { serverInfo?[.sqlState] }

    /// A unique or primary-key constraint refused the write (SQLSTATE 23505).
    var isUniqueViolation: Bool { sqlState == "23505" }
}

/// Runs `body`, turning a unique-constraint violation into `StoreError.conflict(what)`.
func mappingConflict<T>(_ what: String, _ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as PSQLError where error.isUniqueViolation {
        throw StoreError.conflict(what)
    }
}
