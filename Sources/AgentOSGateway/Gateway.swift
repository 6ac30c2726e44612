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
    /// Largest request body accepted.
    public var maxBodyBytes: Int
    /// How long a request may wait for the server beyond any `?wait=`.
    public var serverTimeout: Duration

    /// The contract's defaults: `127.0.0.1:8080` → `tcp://127.0.0.1:5556`.
    public init(host: String = "127.0.0.1", port: Int = 8080, serverEndpoint: String = "tcp://127.0.0.1:5556") {
        self.host = host
        self.port = port
        self.serverEndpoint = serverEndpoint
        self.maxBodyBytes = 8 << 20
        self.serverTimeout = .seconds(15)
    }
}

/// Builds the gateway's router: `/healthz` and every `GatewayRoutes` entry forwarded to the server.
public func buildGatewayRouter(client: ServerClient, configuration: GatewayConfiguration) -> Router<BasicRequestContext> {
    let router = Router(context: BasicRequestContext.self)
    router.middlewares.add(JSONErrorMiddleware())
    let forwarder = Forwarder(client: client, configuration: configuration)

    router.get("/healthz") { _, _ -> Response in
        switch await client.call(.health, token: nil, timeout: .seconds(3)) {
        case .success(let response) where response.status == 200:
            return Forwarder.json(status: .ok, ["status": "ok", "server": response.body])
        default:
            return Forwarder.json(status: .serviceUnavailable, ["status": "unavailable", "error": [
                "code": "server_unreachable", "message": "the gateway cannot reach the server",
            ]])
        }
    }

    let methods: [HTTPRequest.Method] = [.get, .post, .put, .patch, .delete]
    for (path, routes) in Dictionary(grouping: GatewayRoutes.all, by: \.path) {
        for route in routes {
            router.on(RouterPath(path), method: route.method) { request, context in
                try await forwarder.forward(request, context: context, route: route)
            }
        }
        // A known path with another method is 405, not 404.
        let allowed = routes.map(\.method.rawValue).joined(separator: ", ")
        for method in methods where !routes.contains(where: { $0.method == method }) {
            router.on(RouterPath(path), method: method) { _, _ -> Response in
                var response = JSONErrorMiddleware<BasicRequestContext>.response(
                    status: .methodNotAllowed, message: "allowed: \(allowed)")
                response.headers[.allow] = allowed
                return response
            }
        }
    }
    return router
}

/// Builds the gateway application (listening per `configuration`).
public func buildGateway(client: ServerClient, configuration: GatewayConfiguration, logger: Logger) -> some ApplicationProtocol {
    Application(
        router: buildGatewayRouter(client: client, configuration: configuration),
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "agentos-gateway"),
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

    let client: ServerClient
    let configuration: GatewayConfiguration

    func forward(_ request: Request, context: BasicRequestContext, route: GatewayRoute) async throws -> Response {
        var params: [String: String] = [:]
        for (key, value) in context.parameters { params[String(key)] = String(value) }
        for name in route.query {
            if let value = request.uri.queryParameters.get(name) { params[name] = value }
        }
        var body: JSONValue?
        if route.hasBody {
            var request = request
            let buffer = try await request.collectBody(upTo: configuration.maxBodyBytes)
            do {
                body = try JSONValue.parse(Data(buffer: buffer))
            } catch {
                throw HTTPError(.badRequest, message: "the request body is not valid JSON")
            }
        }
        var timeout = configuration.serverTimeout
        if let wait = params["wait"].flatMap(Double.init), wait.isFinite, wait > 0 {
            timeout += .milliseconds(Int64(min(wait, Self.maxWaitSeconds) * 1000))
        }
        switch await client.call(route.operation, token: Self.bearerToken(request), params: params, body: body, timeout: timeout) {
        case .success(let response):
            return Self.json(status: HTTPResponse.Status(code: response.status), response.body)
        case .failure(.unreachable):
            throw HTTPError(.serviceUnavailable, message: "the server is unreachable; try again shortly")
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

    static func json(status: HTTPResponse.Status, _ body: JSONValue) -> Response {
        Response(
            status: status, headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(data: body.encoded())))
    }
}
