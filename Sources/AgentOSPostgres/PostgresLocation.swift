import Foundation
import NIOSSL
import PostgresNIO

/// Where a PostgreSQL store is, from a URL as libpq writes them:
/// `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=…&host=/socket/dir&pool_size=N]`.
///
/// - The password may instead come from `PGPASSWORD`, which keeps it out of process lists.
/// - `host=/dir` (a query parameter, or a host starting with `/`, percent-encoded) connects
///   through the Unix socket `/dir/.s.PGSQL.PORT`.
/// - `sslmode` is `disable`, `prefer` (the default, as libpq's), `require`, or `verify-full`
///   (`require` encrypts without checking the server's certificate, as libpq's does).
/// - `pool_size` caps the server's connections (default 16).
public struct PostgresLocation: Sendable, Equatable, CustomStringConvertible {
    /// Why a URL does not name a PostgreSQL database.
    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    public enum TLSMode: String, Sendable, CaseIterable {
        case disable, prefer, require
        case verifyFull = "verify-full"
    }

    public var host: String
    public var port: Int
    /// The directory of the server's Unix socket, instead of TCP to `host`.
    public var socketDirectory: String?
    public var username: String
    public var password: String?
    public var database: String
    public var tls: TLSMode
    public var maximumConnections: Int

    /// Whether `text` is a PostgreSQL URL (`postgres://` or `postgresql://`).
    public static func isPostgresURL(_ text: String) -> Bool {
        text.hasPrefix("postgres://") || text.hasPrefix("postgresql://")
    }

    /// Parses `url`; `environment` supplies `PGPASSWORD` when the URL has no password.
    public init(url: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        guard Self.isPostgresURL(url), let components = URLComponents(string: url) else {
            throw Invalid(description: "not a PostgreSQL URL (postgres://USER@HOST:PORT/DATABASE): \(Self.redacting(url))")
        }
        let parameters = Dictionary(
            (components.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { _, last in last })
        let known: Set = ["sslmode", "host", "pool_size", "port", "user", "password", "dbname"]
        if let unknown = parameters.keys.sorted().first(where: { !known.contains($0) }) {
            throw Invalid(description: "unknown parameter \(unknown) in the PostgreSQL URL (known: \(known.sorted().joined(separator: ", ")))")
        }
        let user = parameters["user"] ?? components.user.flatMap { $0.removingPercentEncoding }
        self.username = user.flatMap { $0.isEmpty ? nil : $0 } ?? ProcessInfo.processInfo.userName
        self.password = parameters["password"] ?? components.password.flatMap { $0.removingPercentEncoding } ?? environment["PGPASSWORD"]
        let portText = parameters["port"] ?? components.port.map(String.init)
        if let portText {
            guard let port = Int(portText), (1...65535).contains(port) else { throw Invalid(description: "port must be 1-65535, not \(portText)") }
            self.port = port
        } else {
            self.port = 5432
        }
        let host = parameters["host"] ?? components.host.flatMap { $0.removingPercentEncoding } ?? ""
        if host.hasPrefix("/") {
            self.socketDirectory = host
            self.host = "localhost"
        } else {
            self.socketDirectory = nil
            self.host = host.isEmpty ? "localhost" : host
        }
        let path = String(components.path.drop { $0 == "/" }).removingPercentEncoding ?? ""
        self.database = parameters["dbname"] ?? (path.isEmpty ? username : path)
        guard let tls = TLSMode(rawValue: parameters["sslmode"] ?? "prefer") else {
            throw Invalid(description: "sslmode must be one of \(TLSMode.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        self.tls = socketDirectory == nil ? tls : .disable
        if let size = parameters["pool_size"] {
            guard let count = Int(size), (1...1000).contains(count) else { throw Invalid(description: "pool_size must be 1-1000, not \(size)") }
            self.maximumConnections = count
        } else {
            self.maximumConnections = 16
        }
    }

    /// The location without its password, for logs and messages.
    public var description: String {
        guard let socketDirectory else { return "postgres://\(username)@\(host):\(port)/\(database)" }
        return "postgres://\(username)@\(host):\(port)/\(database)?host=\(socketDirectory)"
    }

    /// `url` with any password replaced by `***`, for error messages.
    static func redacting(_ url: String) -> String {
        guard var components = URLComponents(string: url), components.password != nil else { return url }
        components.password = "***"
        return components.string ?? "(a URL)"
    }
}

extension PostgresClient.Configuration {
    init(location: PostgresLocation, options: Options) {
        if let socketDirectory = location.socketDirectory {
            self.init(
                unixSocketPath: "\(socketDirectory)/.s.PGSQL.\(location.port)", username: location.username,
                password: location.password, database: location.database)
        } else {
            var client = TLSConfiguration.makeClientConfiguration()
            let tls: TLS
            switch location.tls {
            case .disable: tls = .disable
            case .prefer:
                client.certificateVerification = .none
                tls = .prefer(client)
            case .require:
                client.certificateVerification = .none
                tls = .require(client)
            case .verifyFull: tls = .require(client)
            }
            self.init(host: location.host, port: location.port, username: location.username, password: location.password,
                      database: location.database, tls: tls)
        }
        self.options = options
    }
}

extension PostgresLocation {
    /// A single connection's configuration (the listener's, outside the pool).
    func connectionConfiguration() throws -> PostgresConnection.Configuration {
        if let socketDirectory {
            return PostgresConnection.Configuration(
                unixSocketPath: "\(socketDirectory)/.s.PGSQL.\(port)", username: username, password: password, database: database)
        }
        var client = TLSConfiguration.makeClientConfiguration()
        let tls: PostgresConnection.Configuration.TLS
        switch self.tls {
        case .disable: tls = .disable
        case .prefer:
            client.certificateVerification = .none
            tls = .prefer(try NIOSSLContext(configuration: client))
        case .require:
            client.certificateVerification = .none
            tls = .require(try NIOSSLContext(configuration: client))
        case .verifyFull: tls = .require(try NIOSSLContext(configuration: client))
        }
        return PostgresConnection.Configuration(host: host, port: port, username: username, password: password, database: database, tls: tls)
    }
}
