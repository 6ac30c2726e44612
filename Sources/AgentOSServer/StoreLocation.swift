import AgentOSPostgres
import AgentOSStore
import Foundation
import Logging

/// Which database the server keeps its state in (`--store`, `AGENTOS_STORE`).
public enum StoreLocation: Sendable, Equatable, CustomStringConvertible {
    /// A SQLite file: `sqlite:PATH`, or the data directory's `agentos.sqlite` when nil.
    case sqlite(path: String?)
    /// A PostgreSQL database (`postgres://…`), which several servers may share.
    case postgres(PostgresLocation)

    /// Why `--store` cannot be used.
    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    /// Parses `sqlite:PATH`, `postgres://…` or `postgresql://…`.
    public init(parsing text: String) throws {
        if text.hasPrefix("sqlite:") {
            let path = String(text.dropFirst("sqlite:".count))
            guard !path.isEmpty else { throw Invalid(description: "--store sqlite:PATH needs a path") }
            self = .sqlite(path: path)
        } else if PostgresLocation.isPostgresURL(text) {
            do {
                self = .postgres(try PostgresLocation(url: text))
            } catch {
                throw Invalid(description: "--store: \(error)")
            }
        } else {
            throw Invalid(description: "--store must be sqlite:PATH or postgres://USER@HOST:PORT/DATABASE")
        }
    }

    public var description: String {
        switch self {
        case .sqlite(let path): "sqlite:\(path ?? "(data directory)/agentos.sqlite")"
        case .postgres(let location): location.description
        }
    }

    /// Opens (creating and migrating as needed) the store; `dataDirectory` holds the default SQLite file.
    func open(dataDirectory: String, logger: Logger) throws -> any AppStore {
        switch self {
        case .sqlite(let path):
            return try SQLiteStore.open(path: path ?? dataDirectory + "/agentos.sqlite")
        case .postgres(let location):
            var storeLogger = logger
            storeLogger[metadataKey: "store"] = "\(location)"
            return try PostgresStore.open(location, logger: storeLogger)
        }
    }
}
