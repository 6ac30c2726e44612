import AgentOSWire
import HTTPTypes

/// One HTTP route and the server operation it forwards to.
public struct GatewayRoute: Sendable {
    /// HTTP method.
    public let method: HTTPRequest.Method
    /// Path with `:name` parameters, as the router takes it.
    public let path: String
    /// The server operation.
    public let operation: APIOperation
    /// Whether the route reads a JSON body.
    public let hasBody: Bool
    /// Query parameters passed through to the server.
    public let query: [String]
}

/// The gateway's routes: the single list the router is built from.
public enum GatewayRoutes {
    /// Every `/api/v1` route.
    public static let all: [GatewayRoute] = [
        GatewayRoute(method: .post, path: "/api/v1/auth/login", operation: .login, hasBody: true, query: []),
        GatewayRoute(method: .get, path: "/api/v1/me", operation: .me, hasBody: false, query: []),
        GatewayRoute(method: .post, path: "/api/v1/projects/:project/jobs", operation: .submitJob, hasBody: true, query: ["wait"]),
        GatewayRoute(method: .get, path: "/api/v1/projects/:project/jobs", operation: .listJobs, hasBody: false, query: ["status", "origin", "limit", "cursor"]),
        GatewayRoute(method: .get, path: "/api/v1/jobs/:id", operation: .getJob, hasBody: false, query: ["wait"]),
        GatewayRoute(method: .post, path: "/api/v1/jobs/:id/cancel", operation: .cancelJob, hasBody: false, query: []),
        GatewayRoute(method: .get, path: "/api/v1/workers", operation: .listWorkers, hasBody: false, query: []),
        GatewayRoute(method: .get, path: "/api/v1/cluster", operation: .cluster, hasBody: false, query: []),
    ]
}
