import AgentOSAPI
import AgentOSGateway
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

/// A live gateway on a loopback port, talked to below HTTP: malformed framing, oversized heads,
/// clients that stall or never close, crowds of connections and bodies too large to read.
@Suite struct GatewayConnectionTests {
    /// Runs `body` with the port of a listening gateway. No server listens behind it, so a
    /// forwarded request is a quick 503; what these tests look at happens before forwarding.
    static func withLiveGateway(
        _ adjust: (inout GatewayConfiguration) -> Void = { _ in }, _ body: @escaping @Sendable (Int) async throws -> Void
    ) async throws {
        var configuration = GatewayConfiguration(host: "127.0.0.1", port: 0, serverEndpoint: "tcp://127.0.0.1:9")
        configuration.maxBodyBytes = 1024
        configuration.serverTimeout = .seconds(2)
        adjust(&configuration)
        let logger = Logger(label: "test")
        let client = try ServerClient(endpoint: configuration.serverEndpoint, logger: logger)
        let connection = Task { try await client.run() }
        defer { connection.cancel() }
        let app = buildGateway(client: client, configuration: configuration, logger: logger)
        try await app.test(.live) { test in try await body(try #require(test.port)) }
    }

    /// A request that is not valid HTTP/1.1 framing, and the answer it must get.
    struct Framing: Sendable, CustomTestStringConvertible {
        let testDescription: String
        let request: [UInt8]
        let status: Int
        let code: String

        static let login = "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\n"

        static let all: [Framing] = [
            .init(testDescription: "a chunk size that is not hex",
                  request: Array((login + "Transfer-Encoding: chunked\r\n\r\nZZZ\r\n{}\r\n0\r\n\r\n").utf8), status: 400, code: "invalid_request"),
            .init(testDescription: "Transfer-Encoding: gzip",
                  request: Array((login + "Transfer-Encoding: gzip\r\n\r\n{}").utf8), status: 400, code: "invalid_request"),
            .init(testDescription: "a chunk that never ends",
                  request: Array((login + "Transfer-Encoding: chunked\r\n\r\n5\r\n{}").utf8), status: 400, code: "invalid_request"),
            .init(testDescription: "a body shorter than Content-Length",
                  request: Array((login + "Content-Length: 100\r\n\r\n{}").utf8), status: 400, code: "invalid_request"),
            .init(testDescription: "two different Content-Lengths",
                  request: Array((login + "Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}").utf8), status: 400, code: "invalid_request"),
            .init(testDescription: "a negative Content-Length",
                  request: Array((login + "Content-Length: -2\r\n\r\n{}").utf8), status: 400, code: "invalid_request"),
            .init(testDescription: "an 80 KB header",
                  request: Array(("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + String(repeating: "a", count: 80_000) + "\r\n\r\n").utf8),
                  status: 431, code: "headers_too_large"),
            .init(testDescription: "5,000 headers",
                  request: Array(("GET /healthz HTTP/1.1\r\nHost: x\r\n" + (0..<5000).map { "X-H\($0): v\r\n" }.joined() + "\r\n").utf8),
                  status: 431, code: "headers_too_large"),
        ]
    }

    @Test(arguments: Framing.all)
    func malformedFramingIsAJSONErrorAndTheConnectionCloses(_ framing: Framing) async throws {
        try await Self.withLiveGateway { port in
            let raw = try await RawClient.connect(port: port)
            defer { raw.close() }
            try await raw.send(framing.request)
            // The client then says it has nothing more to send, as `printf … | nc` does.
            try await raw.finishSending()
            let response = try #require(try await raw.responseWhenClosed(), "no response: \(raw.received.bytes.count) bytes")
            #expect(response.status == framing.status, "\(String(decoding: raw.received.bytes.prefix(300), as: UTF8.self))")
            #expect(response.headers["content-type"] == "application/json")
            #expect(response.errorCode == framing.code, "\(String(decoding: response.body, as: UTF8.self))")
            #expect(response.headers["connection"] == "close")

            // The gateway goes on serving.
            let next = try await RawClient.connect(port: port)
            defer { next.close() }
            try await next.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try await next.response()?.status == 503, "no server behind this gateway: 503")
        }
    }
}
