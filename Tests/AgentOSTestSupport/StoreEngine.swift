import AgentOSPostgres
import AgentOSStore
import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// The store engines every store test runs against.
public enum StoreEngine: String, CaseIterable, Sendable, CustomStringConvertible {
    /// An in-memory SQLite database.
    case sqlite
    /// A fresh database in this test process's throwaway PostgreSQL cluster.
    case postgres

    public var description: String { rawValue }

    /// Opens the PostgreSQL store at `url` (migrating it if needed).
    public static func openPostgres(_ url: String) throws -> any AppStore {
        try PostgresStore.open(try PostgresLocation(url: url), logger: SharedCluster.logger)
    }

    /// The engine tests that are not about engines use: `AGENTOS_TEST_STORE` (`sqlite`, the
    /// default, or `postgres`), so that one suite can be run again on the other engine.
    public static var configured: StoreEngine {
        ProcessInfo.processInfo.environment["AGENTOS_TEST_STORE"].flatMap(StoreEngine.init(rawValue:)) ?? .sqlite
    }

    /// The URL of a new, empty database in this process's throwaway PostgreSQL cluster, for a
    /// server's `--store`.
    public static func newPostgresDatabase() async throws -> String {
        let cluster = try await SharedCluster.shared.cluster()
        return cluster.url(database: try await cluster.createDatabase())
    }

    /// A new, empty, migrated store of this engine.
    public func makeStore() async throws -> any AppStore {
        switch self {
        case .sqlite:
            return try SQLiteStore.inMemory()
        case .postgres:
            return try Self.openPostgres(try await Self.newPostgresDatabase())
        }
    }
}

/// One throwaway PostgreSQL cluster per test process, started when a test first asks for it
/// and stopped when the process exits.
actor SharedCluster {
    static let shared = SharedCluster()
    static let logger = Logger(label: "agentos.test.store")

    /// The one start, which every caller awaits (the actor is re-entered while it runs).
    private var starting: Task<LocalPostgres, any Error>?

    func cluster() async throws -> LocalPostgres {
        if let starting { return try await starting.value }
        let start = Task {
            let cluster = try await LocalPostgres.start()
            Self.stopAtExit(pid: cluster.pid, directory: cluster.directory.path)
            return cluster
        }
        starting = start
        return try await start.value
    }

    /// Stops the cluster when the process exits (a fast shutdown, then deletes its directory).
    private static func stopAtExit(pid: pid_t, directory: String) {
        exitingPID = pid
        exitingDirectory = strdup(directory)
        atexit {
            guard exitingPID > 0, kill(exitingPID, SIGINT) == 0 else { return }
            // Up to 10 s for it to exit; its directory is deleted either way.
            for _ in 0..<1000 where kill(exitingPID, 0) == 0 { usleep(10_000) }
            if kill(exitingPID, 0) == 0 { kill(exitingPID, SIGKILL) }
            if let directory = exitingDirectory { try? FileManager.default.removeItem(atPath: String(cString: directory)) }
        }
    }
}

/// What the exit handler reads (a C function pointer captures nothing): set once, before it is registered.
nonisolated(unsafe) private var exitingPID: pid_t = 0
nonisolated(unsafe) private var exitingDirectory: UnsafeMutablePointer<CChar>?
