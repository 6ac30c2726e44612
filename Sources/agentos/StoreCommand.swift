import AgentOSPostgres
import AgentOSStore
import ArgumentParser
import Foundation
import Logging

struct StoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store", abstract: "Move a server's data between stores.", subcommands: [StoreCopyCommand.self])
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
