import AgentOSGateway
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Testing

/// The gateway's own behaviour: routing, body limits, JSON errors, and 503 with no server.
@Suite struct GatewayTests {
    func withGateway(_ body: @escaping @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        // Nothing listens here: every forwarded call must fail fast with 503.
        var configuration = GatewayConfiguration(host: "127.0.0.1", port: 0, serverEndpoint: "tcp://127.0.0.1:9")
        configuration.maxBodyBytes = 1024
        configuration.serverTimeout = .seconds(2)
        let logger = Logger(label: "test")
        let client = try ServerClient(endpoint: configuration.serverEndpoint, logger: logger)
        defer { client.shutdown() }
        let app = Application(router: buildGatewayRouter(client: client, configuration: configuration), logger: logger)
        try await app.test(.router) { testClient in try await body(testClient) }
    }

    static func errorCode(_ response: TestResponse) throws -> String? {
        let json = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any]
        return (json?["error"] as? [String: Any])?["code"] as? String
    }

    @Test func serverDownIs503WithTheErrorShape() async throws {
        try await withGateway { client in
            let response = try await client.execute(uri: "/api/v1/me", method: .get, headers: [.authorization: "Bearer x"])
            #expect(response.status == .serviceUnavailable)
            #expect(try Self.errorCode(response) == "unavailable")
            #expect(response.headers[.contentType] == "application/json")
            let health = try await client.execute(uri: "/healthz", method: .get)
            #expect(health.status == .serviceUnavailable)
        }
    }

    @Test func malformedJSONIs400() async throws {
        try await withGateway { client in
            let response = try await client.execute(uri: "/api/v1/auth/login", method: .post, body: ByteBuffer(string: "{not json"))
            #expect(response.status == .badRequest)
            #expect(try Self.errorCode(response) == "invalid_request")
        }
    }

    @Test func oversizedBodyIs413() async throws {
        try await withGateway { client in
            let big = ByteBuffer(string: "{\"code\": \"" + String(repeating: "x", count: 4096) + "\"}")
            let response = try await client.execute(uri: "/api/v1/projects/default/jobs", method: .post, body: big)
            #expect(response.status == .contentTooLarge)
            #expect(try Self.errorCode(response) == "body_too_large")
        }
    }

    @Test func unknownRouteIs404AndWrongMethodIs405() async throws {
        try await withGateway { client in
            let response = try await client.execute(uri: "/api/v1/nope", method: .get)
            #expect(response.status == .notFound)
            #expect(try Self.errorCode(response) == "not_found")
            let wrongMethod = try await client.execute(uri: "/api/v1/me", method: .delete)
            #expect(wrongMethod.status == .methodNotAllowed)
            #expect(wrongMethod.headers[.allow] == "GET")
        }
    }
}
