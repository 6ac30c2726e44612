import AgentOSWire
import Foundation


/// A client-side failure, worded for the command line.
public enum ClientError: Error, CustomStringConvertible, Sendable {
    /// No stored credentials.
    case notLoggedIn
    /// The gateway could not be reached.
    case unreachable(String)
    /// The gateway answered with an error.
    case http(status: Int, code: String, message: String)
    /// A local file problem.
    case io(String)

    public var description: String {
        switch self {
        case .notLoggedIn: "not logged in: run `agentos login --gateway URL --email EMAIL --password-stdin` first"
        case .unreachable(let detail): "cannot reach the gateway: \(detail)"
        case .http(let status, let code, let message): "\(message) (\(code), HTTP \(status))"
        case .io(let detail): detail
        }
    }
}

/// Talks to the gateway's REST API over HTTP with libcurl.
public struct GatewayClient: Sendable {
    /// The gateway's base URL, e.g. `http://127.0.0.1:8080`.
    public let baseURL: URL
    /// Bearer token, when logged in.
    public let token: String?

    /// A client for `baseURL`.
    public init(baseURL: URL, token: String? = nil) {
        self.baseURL = baseURL
        self.token = token
    }

    /// A client from stored credentials.
    public init(credentials: Credentials) throws {
        guard let url = URL(string: credentials.gateway) else { throw ClientError.io("bad gateway URL \(credentials.gateway)") }
        self.init(baseURL: url, token: credentials.accessToken)
    }

    /// Sends a request; returns the JSON body of a 2xx answer and throws `ClientError.http` otherwise.
    public func send(_ method: String, _ path: String, query: [String: String] = [:], body: JSONValue? = nil, timeout: TimeInterval = 30) async throws -> JSONValue {
        // Appended as text: `path` is already escaped and must not be escaped again.
        let base = baseURL.absoluteString.hasSuffix("/") ? String(baseURL.absoluteString.dropLast()) : baseURL.absoluteString
        var components = URLComponents(string: base + path)
        if !query.isEmpty { components?.queryItems = query.sorted { $0.key < $1.key }.map { URLQueryItem(name: $0.key, value: $0.value) } }
        guard let url = components?.url else { throw ClientError.io("bad URL for \(path)") }
        var headers = ["Accept: application/json"]
        if let token { headers.append("Authorization: Bearer \(token)") }
        if body != nil { headers.append("Content-Type: application/json") }
        let (status, data) = try await CurlTransport.perform(
            method: method, url: url.absoluteString, headers: headers, body: body?.encoded(), timeout: timeout)
        let json = (try? JSONValue.parse(data)) ?? .null
        guard (200..<300).contains(status) else {
            throw ClientError.http(
                status: status, code: json["error"]?["code"]?.stringValue ?? "http_\(status)",
                message: json["error"]?["message"]?.stringValue ?? "the gateway answered \(status)")
        }
        return json
    }

    /// Logs in and returns credentials to store.
    public func login(email: String, password: String) async throws -> Credentials {
        let answer = try await send("POST", "/api/v1/auth/login", body: ["email": .string(email), "password": .string(password)])
        guard let token = answer["access_token"]?.stringValue, let userID = answer["user"]?["id"]?.stringValue else {
            throw ClientError.io("the gateway's login answer has no access token")
        }
        let lifetime = answer["expires_in"]?.doubleValue ?? 3600
        return Credentials(
            gateway: baseURL.absoluteString, email: email, userID: userID, accessToken: token,
            expiresAt: Date().addingTimeInterval(lifetime))
    }
}
