import AgentOSWire

/// A failed API request: the HTTP status and the contract's error code and message.
public struct APIError: Error, Sendable, Equatable {
    /// HTTP status.
    public let status: Int
    /// snake_case code.
    public let code: String
    /// Human message.
    public let message: String
    /// The field at fault, when there is one (`inputs.n`, `limits.timeout_s`).
    public var path: String?
    /// Extra response headers (`Retry-After`).
    public var headers: [String: String] = [:]

    /// An error.
    public init(_ status: Int, _ code: String, _ message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    static func invalid(_ message: String) -> APIError { APIError(400, "invalid_request", message) }
    static let unauthorized = APIError(401, "unauthorized", "missing, invalid or expired access token")
    static func forbidden(_ message: String) -> APIError { APIError(403, "forbidden", message) }
    static func notFound(_ what: String) -> APIError { APIError(404, "not_found", "\(what) not found") }
    static func conflict(_ message: String) -> APIError { APIError(409, "conflict", message) }
    static let adminOnly = APIError(403, "forbidden", "this needs the admin role")

    /// A refusal the caller should try again, with `Retry-After` in whole seconds (at least 1).
    static func retryLater(_ status: Int, _ code: String, _ message: String, after seconds: Double) -> APIError {
        var error = APIError(status, code, message)
        error.headers = ["Retry-After": String(max(1, Int(seconds.rounded(.up))))]
        return error
    }
}

extension String {
    /// Whether this can be a Python keyword argument (ASCII identifiers only).
    var isPythonIdentifier: Bool {
        guard let first = unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic) else {
            return false
        }
        return unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) }
    }

    /// Letters, digits, `.`, `_`, `-`, starting with a letter or digit: safe in a URL path.
    var isURLName: Bool {
        guard let first = unicodeScalars.first, first.isASCII, first.properties.isAlphabetic || ("0"..."9").contains(first) else {
            return false
        }
        return unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "._-".unicodeScalars.contains($0)) }
    }
}
