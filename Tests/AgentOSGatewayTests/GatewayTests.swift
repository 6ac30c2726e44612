import AgentOSAPI
import AgentOSGateway
import AgentOSWire
import Foundation
import HTTPTypes
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
        configuration.maxUploadBytes = 2048
        configuration.serverTimeout = .seconds(2)
        let logger = Logger(label: "test")
        let client = try ServerClient(endpoint: configuration.serverEndpoint, logger: logger)
        let connection = Task { try await client.run() }
        defer { connection.cancel() }
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
            for method in [HTTPRequest.Method.delete, .trace, .options, HTTPRequest.Method("QUERY")!] {
                let wrongMethod = try await client.execute(uri: "/api/v1/me", method: method)
                #expect(wrongMethod.status == .methodNotAllowed, "\(method)")
                #expect(wrongMethod.headers[.allow] == "GET")
            }
        }
    }

    @Test func oversizedUploadIs413AtTheGateway() async throws {
        try await withGateway { client in
            let response = try await client.execute(
                uri: "/api/v1/projects/p/files?name=a.bin", method: .post, headers: [.authorization: "Bearer x"],
                body: ByteBuffer(bytes: [UInt8](repeating: 7, count: 4096)))
            #expect(response.status == .contentTooLarge)
            #expect(try Self.errorCode(response) == "body_too_large")
            // Within the limit it goes on to the (absent) server.
            let small = try await client.execute(
                uri: "/api/v1/projects/p/files?name=a.bin", method: .post, body: ByteBuffer(bytes: [1, 2, 3]))
            #expect(small.status == .serviceUnavailable)
        }
    }
}

/// The API document names exactly the routes the router serves, with their parameters,
/// bodies and responses, and its schemas are usable.
@Suite struct OpenAPITests {
    @Test func theDocumentListsEveryRouteAndNothingElse() throws {
        let paths = try #require(OpenAPIDocument.json["paths"]?.objectValue)
        var documented: Set<String> = []
        for (path, item) in paths {
            for method in (item.objectValue ?? [:]).keys { documented.insert("\(method.uppercased()) \(path)") }
        }
        var served: Set<String> = ["GET /api/v1/openapi.json", "GET /healthz", "GET /metrics", "GET /api/v1/jobs/{id}/events"]
        for route in APIRoutes.all { served.insert("\(route.method) \(OpenAPIDocument.openAPIPath(route.path))") }
        #expect(documented == served, "only documented: \(documented.subtracting(served).sorted()); only served: \(served.subtracting(documented).sorted())")
        // The web console's files are served beside the API but are not part of it.
        let console: Set<String> = ["GET /", "GET /console/app.js", "GET /console/app.css"]
        #expect(documented.isDisjoint(with: console))

        for route in APIRoutes.all {
            let operation = try #require(paths[OpenAPIDocument.openAPIPath(route.path)]?[route.method.lowercased()])
            #expect(operation["operationId"]?.stringValue == route.operation.rawValue)
            let parameters = operation["parameters"]?.arrayValue ?? []
            let pathNames = route.path.split(separator: "/").filter { $0.hasPrefix(":") }.map { String($0.dropFirst()) }
            for name in pathNames + route.query {
                #expect(parameters.contains { $0["name"]?.stringValue == name }, "\(route.path) does not document \(name)")
            }
            #expect((operation["requestBody"] != nil) == (route.body != .none), "\(route.method) \(route.path) request body")
            let responses = try #require(operation["responses"]?.objectValue)
            #expect(responses.keys.contains { $0.hasPrefix("2") }, "\(route.path) has no success response")
        }
    }

    @Test func everyPathDeclaresWhatTheConnectionGuardCanAnswer() throws {
        let paths = try #require(OpenAPIDocument.json["paths"]?.objectValue)
        let guardAnswer: JSONValue = ["error": ["code": "too_many_connections", "message": "try again shortly"]]
        for (path, item) in paths {
            for (method, operation) in item.objectValue ?? [:] {
                let responses = operation["responses"]?.objectValue ?? [:]
                // Not HTTP/1.1, too slow, a head too large, too many connections.
                for status in ["400", "408", "431", "503"] {
                    let schema = try #require(
                        responses[status]?["content"]?["application/json"]?["schema"], "\(method) \(path) does not declare \(status)")
                    #expect((try? JSONSchema(schema, root: OpenAPIDocument.json).validate(guardAnswer)) != nil,
                            "\(method) \(path) \(status) does not take the guard's error body")
                }
            }
        }
        let health: JSONValue = ["status": "unavailable", "error": ["code": "server_unreachable", "message": "m"]]
        let healthz = try #require(paths["/healthz"]?["get"]?["responses"]?["503"]?["content"]?["application/json"]?["schema"])
        #expect((try? JSONSchema(healthz, root: OpenAPIDocument.json).validate(health)) != nil, "/healthz 503 still takes its own body")
    }

    @Test func everySchemaIsUsableAndEveryReferenceResolves() throws {
        let document = OpenAPIDocument.json
        var references: [String] = []
        func walk(_ value: JSONValue) {
            switch value {
            case .object(let fields):
                if let ref = fields["$ref"]?.stringValue { references.append(ref) }
                fields.values.forEach(walk)
            case .array(let items): items.forEach(walk)
            default: break
            }
        }
        walk(document)
        #expect(!references.isEmpty)
        let schemas = try #require(document["components"]?["schemas"]?.objectValue)
        for ref in Set(references) {
            #expect(schemas[String(ref.dropFirst("#/components/schemas/".count))] != nil, "\(ref) does not resolve")
        }
        for (name, schema) in schemas {
            #expect((try? JSONSchema(schema, root: document)) != nil, "schema \(name) is not usable")
        }
    }

    @Test func theGatewayServesTheDocumentAndEveryDocumentedRoute() async throws {
        var configuration = GatewayConfiguration(host: "127.0.0.1", port: 0, serverEndpoint: "tcp://127.0.0.1:9")
        configuration.serverTimeout = .seconds(2)
        let logger = Logger(label: "test")
        let client = try ServerClient(endpoint: configuration.serverEndpoint, logger: logger)
        let connection = Task { try await client.run() }
        defer { connection.cancel() }
        let app = Application(router: buildGatewayRouter(client: client, configuration: configuration), logger: logger)
        try await app.test(.router) { test in
            let document = try await test.execute(uri: OpenAPIDocument.path, method: .get)
            #expect(document.status == .ok)
            let parsed = try JSONValue.parse(Data(buffer: document.body))
            #expect(parsed["openapi"] == "3.0.3")
            let metrics = try await test.execute(uri: "/metrics", method: .get)
            let text = String(buffer: metrics.body)
            #expect(text.contains("agentos_gateway_server_up 0"), "\(text)")
            #expect(text.contains(#"agentos_gateway_requests_total{route="/api/v1/openapi.json",method="GET",status="200"} 1"#), "\(text)")
            // Every documented route reaches the forwarder (503: no server here), none is "no such route".
            for route in APIRoutes.all {
                let uri = route.path.split(separator: "/", omittingEmptySubsequences: false)
                    .map { $0.hasPrefix(":") ? "x" : String($0) }.joined(separator: "/") + (route.body == .raw ? "?name=f" : "")
                let body = route.body == .json ? ByteBuffer(string: "{}") : route.body == .raw ? ByteBuffer(string: "b") : nil
                let response = try await test.execute(uri: uri, method: .init(rawValue: route.method)!, body: body)
                #expect(response.status == .serviceUnavailable, "\(route.method) \(uri) → \(response.status)")
            }
        }
    }
}
