import AgentOSAPI
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
        case .http(let status, let code, let message) where status == 401 && code != "invalid_credentials":
            "\(message) (\(code), HTTP 401): your login is no longer valid; run `agentos login` again"
        case .http(let status, let code, let message): "\(message) (\(code), HTTP \(status))"
        case .io(let detail): detail
        }
    }
}

extension String {
    /// This text as one segment of a URL path (only unreserved characters left as they are),
    /// for names and ids put into the API's paths.
    public var pathEscaped: String {
        addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? self
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
    public func send(
        _ method: String, _ path: String, query: [String: String] = [:], body: JSONValue? = nil, rawBody: Data? = nil,
        contentType: String? = nil, timeout: TimeInterval = 30
    ) async throws -> JSONValue {
        let (status, data) = try await perform(
            method, path, query: query, body: rawBody ?? body?.encoded(),
            contentType: rawBody != nil ? contentType ?? "application/octet-stream" : body != nil ? "application/json" : nil,
            timeout: timeout)
        guard (200..<300).contains(status) else { throw Self.failure(status: status, data: data) }
        return (try? JSONValue.parse(data)) ?? .null
    }

    /// Sends a request without a body and reads a 2xx answer as `Response`; throws
    /// `ClientError.http` for any other status.
    public func send<Response: Decodable>(
        _ method: String, _ path: String, query: [String: String] = [:], timeout: TimeInterval = 30, as type: Response.Type
    ) async throws -> Response {
        let (status, data) = try await perform(method, path, query: query, body: nil, contentType: nil, timeout: timeout)
        return try Self.decode(type, status: status, data: data)
    }

    /// Sends `body` as JSON and reads a 2xx answer as `Response`.
    public func send<Body: Encodable, Response: Decodable>(
        _ method: String, _ path: String, query: [String: String] = [:], body: Body, timeout: TimeInterval = 30, as type: Response.Type
    ) async throws -> Response {
        let (status, data) = try await perform(
            method, path, query: query, body: try APICoding.encode(body), contentType: "application/json", timeout: timeout)
        return try Self.decode(type, status: status, data: data)
    }

    private static func decode<Response: Decodable>(_ type: Response.Type, status: Int, data: Data) throws -> Response {
        guard (200..<300).contains(status) else { throw failure(status: status, data: data) }
        do {
            return try APICoding.decode(type, from: data)
        } catch {
            throw ClientError.io("the gateway's answer is not what this client expects (\(error)); is it another version?")
        }
    }

    private func perform(
        _ method: String, _ path: String, query: [String: String], body: Data?, contentType: String?, timeout: TimeInterval
    ) async throws -> (Int, Data) {
        // Appended as text: `path` is already escaped and must not be escaped again.
        let base = baseURL.absoluteString.hasSuffix("/") ? String(baseURL.absoluteString.dropLast()) : baseURL.absoluteString
        var components = URLComponents(string: base + path)
        if !query.isEmpty {
            // Percent-encoded as a form is, `+` included: the gateway reads a bare `+` as a space.
            components?.percentEncodedQueryItems = query.sorted { $0.key < $1.key }.map {
                URLQueryItem(name: $0.key.formEncoded, value: $0.value.formEncoded)
            }
        }
        guard let url = components?.url else { throw ClientError.io("bad URL for \(path)") }
        var headers = ["Accept: application/json"]
        if let token { headers.append("Authorization: Bearer \(token)") }
        if let contentType { headers.append("Content-Type: \(contentType)") }
        return try await CurlTransport.perform(method: method, url: url.absoluteString, headers: headers, body: body, timeout: timeout)
    }

    private static func failure(status: Int, data: Data) -> ClientError {
        let error = (try? APICoding.decode(Schemas.ErrorBody.self, from: data))?.error
        return ClientError.http(
            status: status, code: error?.code ?? "http_\(status)", message: error?.message ?? "the gateway answered \(status)")
    }

    /// Credentials for a personal access token (for CI): checked with `GET /me`, and kept as
    /// the access token with no refresh token (it works until it expires or is revoked).
    public func credentials(personalAccessToken token: String) async throws -> Credentials {
        let me = try await GatewayClient(baseURL: baseURL, token: token).send("GET", "/api/v1/me", as: Schemas.User.self)
        return Credentials(
            gateway: baseURL.absoluteString, email: me.email, userID: me.id, accessToken: token, expiresAt: .distantFuture, refreshToken: nil)
    }

    /// Logs in and returns credentials to store.
    public func login(email: String, password: String) async throws -> Credentials {
        let answer = try await send(
            "POST", "/api/v1/auth/login", body: Schemas.LoginRequest(email: email, password: password), as: Schemas.TokenPair.self)
        return credentials(from: answer)
    }

    /// Exchanges a refresh token (which stops working) for new credentials.
    public func refresh(_ refreshToken: String) async throws -> Credentials {
        let answer = try await send(
            "POST", "/api/v1/auth/refresh", body: Schemas.RefreshRequest(refreshToken: refreshToken), as: Schemas.TokenPair.self)
        return credentials(from: answer)
    }

    private func credentials(from answer: Schemas.TokenPair) -> Credentials {
        // A little early, so a token is never used in its last seconds.
        let lifetime = max(0, answer.expiresIn - 5)
        return Credentials(
            gateway: baseURL.absoluteString, email: answer.user.email, userID: answer.user.id,
            accessToken: answer.accessToken, expiresAt: Date().addingTimeInterval(lifetime), refreshToken: answer.refreshToken)
    }

    /// Follows a job until it ends, with the `GET /jobs/{id}/output` long poll: `onOutput`
    /// gets each new piece of stdout and stderr as soon as the server has it (while the job
    /// runs, what its worker streams; at the end, the rest of the stored output), and
    /// `onRestart` the new attempt when the job was put back and runs again (its output then
    /// starts over). Returns the ended job, without its output fields.
    public func follow(
        job id: String, onOutput: (_ stdout: String, _ stderr: String) -> Void, onRestart: (_ attempt: Int) -> Void = { _ in }
    ) async throws -> Schemas.Job {
        let path = "/api/v1/jobs/\(id.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? id)/output"
        var attempt: Int?
        var offsets = (stdout: 0, stderr: 0)
        var status: JobStatus?
        while true {
            var query = ["stdout_offset": String(offsets.stdout), "stderr_offset": String(offsets.stderr), "wait": "25"]
            if let attempt { query["attempt"] = String(attempt) }
            if let status { query["status"] = status.rawValue }
            let page = try await send("GET", path, query: query, timeout: 60, as: Schemas.JobOutputPage.self)
            if let attempt, page.job.attempts != attempt, page.job.attempts > 0 { onRestart(page.job.attempts) }
            if page.job.attempts != attempt { offsets = (0, 0) }
            attempt = page.job.attempts
            status = page.job.status
            // Only text that continues where this client stands.
            let stdout = page.stdoutOffset == offsets.stdout ? page.stdout : ""
            let stderr = page.stderrOffset == offsets.stderr ? page.stderr : ""
            if !stdout.isEmpty || !stderr.isEmpty { onOutput(stdout, stderr) }
            if page.stdoutOffset == offsets.stdout { offsets.stdout = max(offsets.stdout, page.nextStdoutOffset) }
            if page.stderrOffset == offsets.stderr { offsets.stderr = max(offsets.stderr, page.nextStderrOffset) }
            if page.job.status.isFinal { return page.job }
        }
    }

    /// Sends raw bytes (file upload) and returns the JSON answer.
    public func upload(_ path: String, query: [String: String], data: Data, contentType: String, timeout: TimeInterval = 300) async throws -> JSONValue {
        try await send("POST", path, query: query, rawBody: data, contentType: contentType, timeout: timeout)
    }

    /// Fetches raw bytes (file download).
    public func download(_ path: String, timeout: TimeInterval = 300) async throws -> Data {
        let (status, data) = try await perform("GET", path, query: [:], body: nil, contentType: nil, timeout: timeout)
        guard (200..<300).contains(status) else { throw Self.failure(status: status, data: data) }
        return data
    }
}

extension String {
    /// Percent-encoded for a query string: only unreserved characters stay as they are.
    var formEncoded: String {
        addingPercentEncoding(withAllowedCharacters: Self.unreserved) ?? self
    }

    private static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
}
