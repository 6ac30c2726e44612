import Foundation
import Logging
import PostgresNIO

#if canImport(Glibc)
import Glibc
#endif

/// A PostgreSQL cluster this process runs itself: `initdb` in a directory (once), then one
/// `postgres` process listening only on a Unix socket in that directory (named by a port
/// number, as PostgreSQL names sockets), stopped by its pid. `agentos up` runs one for a topology that names a local database; tests run
/// throwaway ones (``start()``, ``with(_:)``) in temporary directories deleted when they stop.
///
/// PostgreSQL refuses to run as root, and the tests do run as root here: then the cluster runs as
/// the `postgres` user that Debian's package creates (`setpriv` execs `postgres` in place, so the
/// pid held is the postmaster's own). As any other user, it runs as that user.
public struct LocalPostgres: Sendable {
    /// Why a cluster could not be started.
    public struct StartError: Error, CustomStringConvertible {
        /// What failed, with the tail of the server's log when there is one.
        public let description: String
    }

    /// The superuser `initdb` creates; it authenticates with `trust`, through the socket only.
    public static let superuser = "agentos"

    /// The directory holding `data/`, `socket/` and `postgres.log`.
    public let directory: URL
    /// The port that names the socket (`.s.PGSQL.<port>`); nothing listens on TCP.
    public let port: Int
    /// Whether `stop()` deletes `directory` (a throwaway cluster's).
    private let removesDirectory: Bool
    /// The postmaster's process (Foundation reaps it when it exits).
    private let process: Process

    /// The postmaster's pid.
    public var pid: pid_t { process.processIdentifier }

    /// Whether the postmaster still runs.
    public var isRunning: Bool { process.isRunning }

    /// The directory of the Unix socket (`.s.PGSQL.<port>` inside it).
    public var socketDirectory: String { directory.appendingPathComponent("socket").path }

    /// A connection configuration for `database`, through the cluster's Unix socket.
    public func configuration(database: String = "postgres") -> PostgresConnection.Configuration {
        PostgresConnection.Configuration(
            unixSocketPath: "\(socketDirectory)/.s.PGSQL.\(port)", username: Self.superuser, password: nil, database: database)
    }

    /// The URL of `database` on this cluster, for `--store`: its Unix socket (the port names it).
    public func url(database: String = "postgres") -> String {
        "postgres://\(Self.superuser)@localhost:\(port)/\(database)?host=\(socketDirectory)"
    }

    /// Starts a throwaway cluster, runs `body` with it, and stops it (and deletes its directory)
    /// whether `body` returns or throws.
    public static func with<Result: Sendable>(_ body: (LocalPostgres) async throws -> Result) async throws -> Result {
        let cluster = try await start()
        do {
            let result = try await body(cluster)
            try await cluster.stop()
            return result
        } catch {
            try? await cluster.stop()
            throw error
        }
    }

    /// Starts a throwaway cluster in a new temporary directory, on a free port.
    public static func start() async throws -> LocalPostgres {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("agentos-pg-\(UUID().uuidString)")
        do {
            return try await start(directory: directory, port: nil, removesDirectory: true)
        } catch {
            try? FileManager.default.removeItem(at: directory)
            throw error
        }
    }

    /// Starts the cluster kept in `directory` (made, with `initdb`, when it has none yet) on
    /// `port`, or on a free port when nil, and waits (up to 60 s) until it accepts connections.
    public static func start(directory: URL, port: Int?) async throws -> LocalPostgres {
        try await start(directory: directory, port: port, removesDirectory: false)
    }

    private static func start(directory: URL, port: Int?, removesDirectory: Bool) async throws -> LocalPostgres {
        let binaries = try binDirectory()
        let account = try runAccount()
        let data = directory.appendingPathComponent("data").path
        for path in [directory.path, directory.appendingPathComponent("socket").path] {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            if let account, chown(path, account.uid, account.gid) != 0 {
                throw StartError(description: "chown \(path): \(String(cString: strerror(errno)))")
            }
        }
        if !FileManager.default.fileExists(atPath: data + "/PG_VERSION") {
            let initdb = try await run(
                binaries + "/initdb",
                ["-D", data, "-U", superuser, "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync", "--no-instructions"],
                as: account, output: directory.appendingPathComponent("initdb.log"))
            guard initdb == 0 else {
                throw StartError(description: "initdb exited with \(initdb): \(tail(of: directory.appendingPathComponent("initdb.log")))")
            }
        }
        if let port {
            return try await launch(binaries: binaries, directory: directory, port: port, account: account, removesDirectory: removesDirectory)
        }
        // A port taken between choosing it and the server binding it makes the server exit:
        // choose again.
        var lastError: (any Error)?
        for _ in 0..<5 {
            do {
                return try await launch(
                    binaries: binaries, directory: directory, port: try freeLoopbackPort(), account: account,
                    removesDirectory: removesDirectory)
            } catch {
                lastError = error
            }
        }
        throw lastError ?? StartError(description: "postgres did not start")
    }

    /// Creates an empty database and returns its name.
    public func createDatabase() async throws -> String {
        let name = "test_\(UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased())"
        try await withConnection { connection in
            _ = try await connection.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: Self.logger)
        }
        return name
    }

    /// Creates the database `name` unless it exists.
    public func createDatabaseIfMissing(_ name: String) async throws {
        try await withConnection { connection in
            let rows = try await connection.query("SELECT count(*) FROM pg_database WHERE datname = \(name)", logger: Self.logger)
            var exists = false
            for try await count in rows.decode(Int.self) { exists = count > 0 }
            if !exists { try await connection.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \"\(name)\""), logger: Self.logger) }
        }
    }

    /// Opens a connection to `database`, runs `body` with it and closes it.
    public func withConnection<Result: Sendable>(
        database: String = "postgres", _ body: (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        let connection = try await PostgresConnection.connect(
            configuration: configuration(database: database), id: 1, logger: Self.logger)
        do {
            let result = try await body(connection)
            try await connection.close()
            return result
        } catch {
            try? await connection.close()
            throw error
        }
    }

    /// Asks the server for a fast shutdown (SIGINT), waits up to 60 s for it to exit (SIGKILL
    /// past that), and deletes the directory of a throwaway cluster.
    public func stop() async throws {
        defer { if removesDirectory { try? FileManager.default.removeItem(at: directory) } }
        guard kill(pid, SIGINT) == 0 else { return }
        let deadline = ContinuousClock.now + .seconds(60)
        while process.isRunning {
            if ContinuousClock.now > deadline {
                kill(pid, SIGKILL)
                throw StartError(description: "postgres (pid \(pid)) did not stop within 60 s; killed")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    // MARK: - Starting

    public static let logger = Logger(label: "agentos.postgres.local")

    private static func launch(
        binaries: String, directory: URL, port: Int, account: Account?, removesDirectory: Bool
    ) async throws -> LocalPostgres {
        let log = directory.appendingPathComponent("postgres.log")
        var arguments = [
            "-D", directory.appendingPathComponent("data").path, "-p", String(port),
            // No TCP at all: local connections are trusted, and a job allowed the network shares
            // the host's loopback. The socket's directory is 0700, its owner's alone.
            "-c", "listen_addresses=", "-c", "unix_socket_directories=\(directory.appendingPathComponent("socket").path)",
            "-c", "max_connections=200",
        ]
        if removesDirectory {
            // A throwaway cluster holds nothing worth a sync, and several may run at once.
            arguments += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "shared_buffers=16MB"]
        }
        let process = try spawn(binaries + "/postgres", arguments, as: account, output: log)
        let cluster = LocalPostgres(directory: directory, port: port, removesDirectory: removesDirectory, process: process)
        let deadline = ContinuousClock.now + .seconds(60)
        while true {
            guard process.isRunning else {
                throw StartError(description: "postgres exited with \(process.terminationStatus): \(tail(of: log))")
            }
            do {
                try await cluster.withConnection { connection in
                    _ = try await connection.query("SELECT 1", logger: logger)
                }
                return cluster
            } catch {
                if ContinuousClock.now > deadline {
                    kill(cluster.pid, SIGKILL)
                    throw StartError(description: "postgres did not accept connections within 60 s (\(error)): \(tail(of: log))")
                }
                try await Task.sleep(for: .milliseconds(50))
            }
        }
    }

    /// The directory holding `initdb` and `postgres`: `AGENTOS_PG_BINDIR`, else the newest
    /// `/usr/lib/postgresql/<version>/bin` (Debian keeps them off the `PATH`).
    private static func binDirectory() throws -> String {
        if let configured = ProcessInfo.processInfo.environment["AGENTOS_PG_BINDIR"], !configured.isEmpty {
            return configured
        }
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [])
            .compactMap(Int.init)
            .sorted()
        for version in versions.reversed() where FileManager.default.isExecutableFile(atPath: "\(root)/\(version)/bin/initdb") {
            return "\(root)/\(version)/bin"
        }
        throw StartError(description: "no PostgreSQL server found under \(root) (install Debian's postgresql, or set AGENTOS_PG_BINDIR)")
    }

    /// The account a cluster runs as when it cannot run as the current user.
    struct Account {
        let name: String
        let uid: uid_t
        let gid: gid_t
    }

    /// nil when the current user can run PostgreSQL; the `postgres` account when we are root.
    private static func runAccount() throws -> Account? {
        guard geteuid() == 0 else { return nil }
        guard let entry = getpwnam("postgres") else {
            throw StartError(description: "running as root and there is no postgres user to run PostgreSQL as")
        }
        return Account(name: "postgres", uid: entry.pointee.pw_uid, gid: entry.pointee.pw_gid)
    }

    /// Runs a program to its end and returns its exit status.
    private static func run(_ program: String, _ arguments: [String], as account: Account?, output: URL) async throws -> Int32 {
        try await withCheckedThrowingContinuation { continuation in
            do {
                _ = try spawn(program, arguments, as: account, output: output) { process in
                    continuation.resume(returning: process.terminationStatus)
                }
            } catch {
                continuation.resume(throwing: error)
            }
        }
    }

    /// Starts a program with its output appended to `output`, as `account` when one is given
    /// (through `setpriv`, which execs the program: the pid is the program's own).
    private static func spawn(
        _ program: String, _ arguments: [String], as account: Account?, output: URL,
        onExit: (@Sendable (Process) -> Void)? = nil
    ) throws -> Process {
        let process = Process()
        if let account {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
            process.arguments = ["--reuid=\(account.uid)", "--regid=\(account.gid)", "--init-groups", "--", program] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: program)
            process.arguments = arguments
        }
        guard FileManager.default.createFile(atPath: output.path, contents: nil) else {
            throw StartError(description: "cannot create \(output.path)")
        }
        let handle = try FileHandle(forWritingTo: output)
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        // Locale variables of the test's environment need not exist on this machine.
        var environment = ProcessInfo.processInfo.environment
        environment["LC_ALL"] = "C.UTF-8"
        environment["LANG"] = "C.UTF-8"
        process.environment = environment
        if let onExit { process.terminationHandler = onExit }
        try process.run()
        try handle.close()
        return process
    }

    /// A port nothing listens on now, from the kernel's ephemeral range.
    private static func freeLoopbackPort() throws -> Int {
        let socketFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socketFD >= 0 else { throw StartError(description: "socket: \(String(cString: strerror(errno)))") }
        defer { close(socketFD) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socketFD, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw StartError(description: "bind: \(String(cString: strerror(errno)))") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socketFD, $0, &length) }
        }
        guard named == 0 else { throw StartError(description: "getsockname: \(String(cString: strerror(errno)))") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    private static func tail(of file: URL) -> String {
        guard let text = try? String(contentsOf: file, encoding: .utf8) else { return "(no log)" }
        return text.split(separator: "\n").suffix(10).joined(separator: "\n")
    }
}
