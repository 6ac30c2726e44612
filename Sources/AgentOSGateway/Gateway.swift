import AgentOSAPI
import AgentOSHTTPServer
import AgentOSWire
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// Settings of `agentos gateway`.
public struct GatewayConfiguration: Sendable {
    /// Address to listen on.
    public var host: String
    /// Port to listen on (0: any free port).
    public var port: Int
    /// The server's API endpoint.
    public var serverEndpoint: String
    /// Largest JSON request body accepted.
    public var maxBodyBytes: Int
    /// Largest file upload accepted (the server may set a lower limit).
    public var maxUploadBytes: Int
    /// How long a request may wait for the server beyond any `?wait=`.
    public var serverTimeout: Duration
    /// What a connection may send and how it ends.
    public var http = HTTPServerLimits()

    /// The contract's defaults: `127.0.0.1:8080` → `tcp://127.0.0.1:5556`.
    public init(host: String = "127.0.0.1", port: Int = 8080, serverEndpoint: String = "tcp://127.0.0.1:5556") {
        self.host = host
        self.port = port
        self.serverEndpoint = serverEndpoint
        self.maxBodyBytes = 8 << 20
        self.maxUploadBytes = 32 << 20
        self.serverTimeout = .seconds(15)
    }
}

/// The gateway's request context: the client's address goes to the server for rate limits and audit.
public struct GatewayRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }
}

/// Builds the gateway's router: the web console (`/`), `/healthz`, `/metrics`, the API
/// document, and every `APIRoutes` entry forwarded to the server.
public func buildGatewayRouter(client: any ServerCalls, configuration: GatewayConfiguration) -> Router<GatewayRequestContext> {
    let router = Router(context: GatewayRequestContext.self)
    let metrics = GatewayMetrics()
    // Outside the error middleware, so errors are counted with the status they were answered with.
    router.middlewares.add(MetricsMiddleware(metrics: metrics))
    router.middlewares.add(JSONErrorMiddleware())
    let forwarder = Forwarder(client: client, configuration: configuration)

    router.get("/healthz") { _, _ -> Response in
        switch await client.call(.health, token: nil, timeout: .seconds(3)) {
        case .success(let response) where response.status == 200:
            return Forwarder.json(status: .ok, Schemas.GatewayHealth(
                status: "ok", server: try? APICoding.decode(Schemas.Health.self, from: response.body)))
        default:
            return Forwarder.json(status: .serviceUnavailable, Schemas.GatewayHealth(
                status: "unavailable", error: .init(code: "server_unreachable", message: client.handshakeFailure.map { "the gateway cannot reach the server: \($0)" } ?? "the gateway cannot reach the server")))
        }
    }
    router.get("/metrics") { _, _ -> Response in await metrics.scrape(client: client) }
    Console.addRoutes(to: router)
    let document = OpenAPIDocument.json.encoded()
    router.get(RouterPath(OpenAPIDocument.path)) { _, _ -> Response in
        Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(data: document)))
    }

    router.get(RouterPath(JobEvents.path)) { request, context -> Response in
        await JobEvents.response(request: request, id: context.parameters.get("id") ?? "", client: client, configuration: configuration)
    }

    // Every method a client may try on a route (QUERY is the draft safe method with a body).
    let methods: [HTTPRequest.Method] = [.get, .head, .post, .put, .patch, .delete, .options, .trace, .connect]
        + (HTTPRequest.Method("QUERY").map { [$0] } ?? [])
    var byPath = Dictionary(grouping: APIRoutes.all, by: \.path).mapValues { $0.map { ($0.method, Optional($0)) } }
    byPath[OpenAPIDocument.path] = [("GET", nil)]
    byPath[JobEvents.path] = [("GET", nil)]
    for (path, routes) in byPath {
        for case (let method, let route?) in routes {
            router.on(RouterPath(path), method: HTTPRequest.Method(rawValue: method) ?? .get) { request, context in
                try await forwarder.forward(request, context: context, route: route)
            }
        }
        // A known path with another method is 405, not 404.
        let allowed = routes.map(\.0).joined(separator: ", ")
        for method in methods where !routes.contains(where: { $0.0 == method.rawValue }) {
            router.on(RouterPath(path), method: method) { _, _ -> Response in
                var response = JSONErrorMiddleware<GatewayRequestContext>.response(
                    status: .methodNotAllowed, message: "allowed: \(allowed)")
                response.headers[.allow] = allowed
                return response
            }
        }
    }
    return router
}

/// Builds the gateway application (listening per `configuration`); `onServerRunning` gets the
/// listening channel (its local address has the port when `port` was 0).
public func buildGateway(
    client: any ServerCalls, configuration: GatewayConfiguration, logger: Logger,
    onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
) -> some ApplicationProtocol {
    Application(
        router: buildGatewayRouter(client: client, configuration: configuration),
        server: .guardedHTTP1(configuration.http),
        configuration: configuration.http.applicationConfiguration(
            host: configuration.host, port: configuration.port, serverName: "agentos-gateway"),
        onServerRunning: onServerRunning,
        logger: logger)
}

/// A readable reason when `error` is a failure to listen (address in use, not allowed, …).
public func listenFailureDescription(_ error: any Error, configuration: GatewayConfiguration) -> String? {
    guard let failure = error as? IOError else { return nil }
    return "cannot listen on \(configuration.host):\(configuration.port): \(String(cString: strerror(failure.errnoCode)))"
}

/// Turns an HTTP request into a server API request and the answer back into HTTP.
struct Forwarder: Sendable {
    /// The server refuses longer `?wait=`; the gateway never waits past it.
    static let maxWaitSeconds = 300.0

    let client: any ServerCalls
    let configuration: GatewayConfiguration

    func forward(_ request: Request, context: GatewayRequestContext, route: APIRoute) async throws -> Response {
        var params: [String: String] = [:]
        for (key, value) in context.parameters { params[String(key)] = String(value) }
        let query = FormQuery(request.uri.query ?? "")
        for name in route.query {
            if let value = query[name] { params[name] = value }
        }
        // The body goes to the server as the bytes it is: the server parses JSON itself, once.
        var body = Data()
        switch route.body {
        case .none:
            break
        case .json:
            body = Data(buffer: try await request.readBody(
                upTo: configuration.maxBodyBytes, tooLarge: "the request body may be at most \(configuration.maxBodyBytes) bytes"))
        case .raw:
            body = Data(buffer: try await request.readBody(
                upTo: configuration.maxUploadBytes, tooLarge: "files may be at most \(configuration.maxUploadBytes >> 20) MiB"))
        }
        var timeout = configuration.serverTimeout
        if let wait = params["wait"].flatMap(Double.init), wait.isFinite, wait > 0 {
            timeout += .milliseconds(Int64(min(wait, Self.maxWaitSeconds) * 1000))
        }
        let client = context.remoteAddress?.ipAddress
        switch await self.client.call(
            route.operation, token: Self.bearerToken(request), params: params, body: body,
            contentType: route.body == .raw ? request.headers[.contentType] : nil, client: client, timeout: timeout)
        {
        case .success(let response):
            return Self.response(response)
        case .failure(.unreachable):
            throw HTTPError(.serviceUnavailable, message: self.client.unreachableMessage)
        case .failure(.timedOut):
            throw HTTPError(.serviceUnavailable, message: "the server did not answer in time")
        }
    }

    static func bearerToken(_ request: Request) -> String? {
        guard let header = request.headers[.authorization] else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        return parts[1].trimmingCharacters(in: .whitespaces)
    }

    /// The server's answer as HTTP: its status, headers and body bytes, untouched.
    static func response(_ answer: APIResponse) -> Response {
        let status = HTTPResponse.Status(code: answer.status)
        var headers = HTTPFields()
        for (name, value) in answer.headers {
            if let field = HTTPField.Name(name) { headers[field] = value }
        }
        if status.code == 204 { return Response(status: status, headers: headers) }
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(data: answer.body)))
    }

    static func json(status: HTTPResponse.Status, _ body: some Encodable) -> Response {
        Response(
            status: status, headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(data: (try? APICoding.encode(body)) ?? Data())))
    }
}

/// A query string read as HTML forms and most clients write it: `+` is a space and `%2B` a
/// plus (Python's `urlencode`, browsers' forms); the first value of a name counts.
struct FormQuery {
    private var values: [String: String] = [:]

    init(_ query: String) {
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = Self.decode(parts[0]) else { continue }
            let value = parts.count > 1 ? Self.decode(parts[1]) : ""
            if values[name] == nil, let value { values[name] = value }
        }
    }

    subscript(name: String) -> String? { values[name] }

    private static func decode(_ text: Substring) -> String? {
        text.replacingOccurrences(of: "+", with: " ").removingPercentEncoding
    }
}
