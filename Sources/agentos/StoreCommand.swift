import AgentOSPostgres
import AgentOSStore
import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle

struct StoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store", abstract: "Move a server's data between stores, or run a local PostgreSQL for servers to share.",
        subcommands: [StoreCopyCommand.self, StoreLocalCommand.self])
}

struct StoreCopyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "copy",
        abstract: "Copy a single server's SQLite data (users, tokens, skills, history, files, audit) into an empty PostgreSQL database.",
        discussion: """
            Stop the server first. Everything is copied in one transaction, then each table is \
            checked by its row count and a hash of its rows read back from both databases; the \
            command exits 1 if any differs. Files' bytes come from the data directory's blobs/ \
            (next to the SQLite file unless --blobs says otherwise).
            """)

    @Option(help: "The SQLite store: sqlite:PATH (e.g. sqlite:.agentos/agentos.sqlite)") var from: String
    @Option(help: "The PostgreSQL store: postgres://USER@HOST:PORT/DATABASE; the password may come from PGPASSWORD") var to: String
    @Option(help: "The directory of the files' bytes. Default: blobs/ next to the SQLite file") var blobs: String?

    func run() async throws {
        Settings.bootstrapLogging()
        guard from.hasPrefix("sqlite:"), !from.dropFirst("sqlite:".count).isEmpty else {
            throw ValidationError("--from must be sqlite:PATH")
        }
        let path = String(from.dropFirst("sqlite:".count))
        guard FileManager.default.fileExists(atPath: path) else { throw CommandFailed(message: "no SQLite database at \(path)") }
        let location: PostgresLocation
        do {
            location = try PostgresLocation(url: to)
        } catch {
            throw ValidationError("--to: \(error)")
        }
        let blobDirectory = blobs ?? (URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent("blobs").path)
        let reports: [StoreCopy.TableReport]
        do {
            let source = try SQLiteStore.open(path: path)
            let target = try PostgresStore.open(location, logger: Logger(label: "agentos.store-copy"))
            defer { target.close() }
            reports = try StoreCopy(source: source, blobDirectory: blobDirectory, target: target).run()
        } catch let failure as StoreCopy.Failure {
            throw CommandFailed(message: "store copy: \(failure)")
        }
        for report in reports {
            print("\(report.table.padding(toLength: 16, withPad: " ", startingAt: 0)) \(String(report.rows).padding(toLength: 8, withPad: " ", startingAt: 0)) \(report.matches ? "ok" : "DIFFERS") \(report.targetHash.prefix(16))")
        }
        let differing = reports.filter { !$0.matches }.map(\.table)
        guard differing.isEmpty else {
            throw CommandFailed(message: "store copy: the copy differs from the source in \(differing.joined(separator: ", "))")
        }
        print("copied \(reports.reduce(0) { $0 + $1.rows }) rows into \(location); every table checks out")
    }
}

struct StoreLocalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "local",
        abstract: "Run a PostgreSQL cluster of this machine's for servers to share (Debian's postgresql), until stopped.",
        discussion: """
            The cluster is kept in --dir (made with initdb on first start), listens on its Unix \
            socket only (in --dir/socket, 0700; --port names it), trusts what connects there, and \
            has a database named agentos. The line \
            `postgres ready url=…` gives the --store URL. SIGTERM or Ctrl-C stops it. As root it runs \
            as the postgres user, which must be able to reach --dir.
            """)

    @Option(help: "Directory of the cluster (data/, socket/, postgres.log)") var dir: String
    @Option(help: "The port that names the socket (.s.PGSQL.PORT). Default 5433") var port: Int = 5433

    func run() async throws {
        Settings.bootstrapLogging()
        guard (1...65535).contains(port) else { throw ValidationError("--port must be 1-65535") }
        let directory = URL(fileURLWithPath: dir).standardizedFileURL
        let cluster: LocalPostgres
        do {
            cluster = try await LocalPostgres.start(directory: directory, port: port)
            try await cluster.createDatabaseIfMissing("agentos")
        } catch {
            throw CommandFailed(message: "\(error)")
        }
        FileHandle.standardOutput.write(Data("postgres ready url=\(cluster.url(database: "agentos")) pid=\(cluster.pid)\n".utf8))
        // Until SIGTERM or Ctrl-C: then the cluster gets a fast shutdown.
        let group = ServiceGroup(services: [UntilShutdown()], gracefulShutdownSignals: [.sigterm, .sigint], logger: Logger(label: "agentos.store"))
        try? await group.run()
        try await cluster.stop()
        FileHandle.standardOutput.write(Data("postgres stopped\n".utf8))
    }
}

/// A service that only waits for the graceful shutdown.
private struct UntilShutdown: Service {
    func run() async throws {
        try await gracefulShutdown()
    }
}
