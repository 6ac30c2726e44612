import AgentOSAPI
import AgentOSGateway
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import Testing
import ZeroMQ

/// A live gateway on a loopback port, talked to below HTTP: malformed framing, oversized heads,
/// clients that stall or never close, crowds of connections and bodies too large to read.
@Suite(.serialized) struct GatewayConnectionTests {
    /// Runs `body` with the port of a listening gateway, which no other client uses. No server
    /// listens behind it, so a forwarded request is a quick 503; what these tests look at
    /// happens before forwarding.
    static func withLiveGateway(
        _ adjust: (inout GatewayConfiguration) -> Void = { _ in }, _ body: @escaping @Sendable (Int) async throws -> Void
    ) async throws {
        var configuration = GatewayConfiguration(host: "127.0.0.1", port: 0, serverEndpoint: "tcp://127.0.0.1:9")
        configuration.maxBodyBytes = 1024
        configuration.serverTimeout = .seconds(2)
        adjust(&configuration)
        let logger = Logger(label: "test")
        let client = try ServerClient(endpoint: configuration.serverEndpoint, logger: logger)
        let (ports, port) = AsyncStream.makeStream(of: Int.self)
        let app = buildGateway(client: client, configuration: configuration, logger: logger) { channel in
            port.yield(channel.localAddress?.port ?? 0)
            port.finish()
        }
        let group = ServiceGroup(configuration: .init(services: [client, app], logger: logger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            defer { tasks.cancelAll() }
            var listening = ports.makeAsyncIterator()
            let bound = try #require(await listening.next())
            try await body(bound)
            await group.triggerGracefulShutdown()
        }
    }

    /// A request that is not valid HTTP/1.1 framing, and the answer it must get.
    struct Framing: Sendable, CustomTestStringConvertible {
        let testDescription: String
        let request: [UInt8]
        let status: Int
        let code: String

        static let login = "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\n"

        static func invalid(_ description: String, _ request: String) -> Framing {
            Framing(testDescription: description, request: Array(request.utf8), status: 400, code: "invalid_request")
        }

        static func tooLarge(_ description: String, _ request: String) -> Framing {
            Framing(testDescription: description, request: Array(request.utf8), status: 431, code: "headers_too_large")
        }

        static let all: [Framing] = [
            invalid("a chunk size that is not hex", login + "Transfer-Encoding: chunked\r\n\r\nZZZ\r\n{}\r\n0\r\n\r\n"),
            invalid("Transfer-Encoding: gzip", login + "Transfer-Encoding: gzip\r\n\r\n{}"),
            invalid("a chunk that never ends", login + "Transfer-Encoding: chunked\r\n\r\n5\r\n{}"),
            invalid("a body shorter than Content-Length", login + "Content-Length: 100\r\n\r\n{}"),
            invalid("two different Content-Lengths", login + "Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}"),
            invalid("a negative Content-Length", login + "Content-Length: -2\r\n\r\n{}"),
            tooLarge("an 80 KB header", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + String(repeating: "a", count: 80_000) + "\r\n\r\n"),
            tooLarge("5,000 headers", "GET /healthz HTTP/1.1\r\nHost: x\r\n" + (0..<5000).map { "X-H\($0): v\r\n" }.joined() + "\r\n"),
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

    // MARK: Slow clients

    @Test func aConnectionThatSendsNothingIsClosedAfterTheHeaderTimeout() async throws {
        try await Self.withLiveGateway({ $0.http.headerTimeout = .seconds(1) }) { port in
            let opened = ContinuousClock.now
            let raw = try await RawClient.connect(port: port)
            defer { raw.close() }
            #expect(try await raw.wait { $0.serverClosed }, "a half-open connection is closed")
            #expect(raw.received.bytes.isEmpty, "it sent nothing, so nothing is answered")
            #expect(ContinuousClock.now - opened >= .milliseconds(900), "not before the timeout")
        }
    }

    @Test func aHeadTrickledByteByByteIs408AtTheHeaderTimeout() async throws {
        // Long enough for the first bytes to follow the connection on a loaded machine: a
        // connection with nothing at the timeout is closed without an answer (CI once took
        // over 3 s to send them).
        try await Self.withLiveGateway({ $0.http.headerTimeout = .seconds(8) }) { port in
            let opened = ContinuousClock.now
            let raw = try await RawClient.connect(port: port)
            defer { raw.close() }
            try await raw.send("GET /healthz HTTP/1.1\r\nHost: x\r\n")
            // A slowloris: every byte is progress, none completes the head. It stops once
            // answered: a byte sent after the server's close would make it answer RST, which
            // can drop the 408 before a busy client has read it.
            while !raw.received.serverClosed, RawResponse(raw.received.bytes)?.isComplete != true,
                  ContinuousClock.now - opened < .seconds(30) {
                try await raw.send("X")
                try await Task.sleep(for: .milliseconds(100))
            }
            let response = try #require(try await raw.responseWhenClosed())
            #expect(response.status == 408 && response.errorCode == "request_timeout")
            #expect(response.headers["connection"] == "close")
            #expect(ContinuousClock.now - opened < .seconds(25), "progress does not extend the header timeout")
        }
    }

    @Test func anIdleKeepAliveConnectionIsClosedAfterTheIdleTimeout() async throws {
        try await Self.withLiveGateway({ $0.http.idleTimeout = .seconds(1) }) { port in
            let raw = try await RawClient.connect(port: port)
            defer { raw.close() }
            // The idle time counts from the answer, which comes after this.
            let asked = ContinuousClock.now
            try await raw.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            let response = try #require(try await raw.response())
            #expect(response.status == 503)
            #expect(try await raw.wait { $0.serverClosed }, "the idle connection is closed")
            #expect(ContinuousClock.now - asked >= .milliseconds(900), "not before the idle timeout")
            #expect(RawResponse(raw.received.bytes)?.body.count == response.body.count, "and nothing more was sent")
        }
    }

    @Test func aRequestWaitingForTheServerIsNotCutByTheTimeouts() async throws {
        // A server that takes requests and never answers: the gateway's call waits its whole timeout.
        let context = try Context()
        let silent = try context.makeSocket(.router)
        defer { silent.close() }
        try silent.setLinger(0)
        try silent.bind("tcp://127.0.0.1:*")
        let endpoint = try silent.lastEndpoint
        try await Self.withLiveGateway({
            $0.serverEndpoint = endpoint
            $0.serverTimeout = .seconds(3)
            $0.http.idleTimeout = .seconds(1)
        }) { port in
            let raw = try await RawClient.connect(port: port)
            defer { raw.close() }
            try await raw.send("GET /api/v1/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer x\r\n\r\n")
            let response = try #require(try await raw.response(), "the connection was cut while the request waited")
            #expect(response.status == 503 && response.errorMessage?.contains("did not answer in time") == true)
        }
    }

    // MARK: Crowds

    /// A connection from `address` that has been served a request, and so is counted: the
    /// server admits connections on several event loops, in no set order.
    static func servedConnection(port: Int, from address: String? = nil) async throws -> RawClient {
        let client = try await RawClient.connect(port: port, from: address)
        try await client.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try await client.response()?.errorCode == "server_unreachable", "served (no server behind this gateway)")
        return client
    }

    @Test func connectionsPastThePerAddressCapAre503AndOtherAddressesAreServed() async throws {
        try await Self.withLiveGateway({
            $0.http.maxConnectionsPerAddress = 2
            $0.http.headerTimeout = .seconds(120)
        }) { port in
            let held = [try await Self.servedConnection(port: port), try await Self.servedConnection(port: port)]
            defer { held.forEach { $0.close() } }
            let over = try await RawClient.connect(port: port)
            defer { over.close() }
            try await over.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            let refused = try #require(try await over.responseWhenClosed())
            #expect(refused.status == 503 && refused.errorCode == "too_many_connections", "\(refused.errorMessage ?? "")")
            #expect(refused.headers["retry-after"] != nil && refused.headers["connection"] == "close")

            let other = try await Self.servedConnection(port: port, from: "127.0.0.2")
            other.close()

            // Once one of the first two closes, the address is served again.
            held[0].close()
            var served = false
            // Generous: on a loaded machine the gateway may take a while to see the close.
            let deadline = ContinuousClock.now + .seconds(180)
            while !served, ContinuousClock.now < deadline {
                let again = try await RawClient.connect(port: port)
                try await again.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                served = try await again.response()?.errorCode == "server_unreachable"
                again.close()
            }
            #expect(served)
        }
    }

    @Test func connectionsPastTheGlobalCapAre503() async throws {
        try await Self.withLiveGateway({
            $0.http.maxConnections = 2
            $0.http.headerTimeout = .seconds(120)
        }) { port in
            let held = [try await Self.servedConnection(port: port, from: "127.0.0.2"), try await Self.servedConnection(port: port, from: "127.0.0.3")]
            defer { held.forEach { $0.close() } }
            let over = try await RawClient.connect(port: port, from: "127.0.0.4")
            defer { over.close() }
            try await over.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            let refused = try #require(try await over.responseWhenClosed())
            #expect(refused.status == 503 && refused.errorCode == "too_many_connections")
            #expect(refused.headers["retry-after"] != nil)
        }
    }

    @Test func aCrowdFromOneAddressDoesNotLockOthersOut() async throws {
        try await Self.withLiveGateway({
            $0.http.maxConnectionsPerAddress = 20
            $0.http.headerTimeout = .seconds(120)
        }) { port in
            var crowd: [RawClient] = []
            defer { crowd.forEach { $0.close() } }
            for _ in 0..<300 { crowd.append(try await RawClient.connect(port: port)) }
            let other = try await RawClient.connect(port: port, from: "127.0.0.2")
            defer { other.close() }
            try await other.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try await other.response(timeout: .seconds(10))?.errorCode == "server_unreachable")
            // Past 20, the crowd was refused, each with a 503 it can read.
            let refusedAll = try await other.wait {
                _ in crowd.filter { RawResponse($0.received.bytes)?.errorCode == "too_many_connections" }.count == 280
            }
            #expect(refusedAll)
        }
    }

    @Test func whenTooManyRefusalsAreUnderwayMoreConnectionsAreClosedWithoutOne() async throws {
        try await Self.withLiveGateway({
            $0.http.maxConnections = 1
            $0.http.maxOpenConnections = 3
            $0.http.refusalLingerTime = .seconds(120)
            $0.http.headerTimeout = .seconds(120)
        }) { port in
            let served = try await Self.servedConnection(port: port, from: "127.0.0.2")
            defer { served.close() }
            // One refusal may be underway (half of what is left): it lingers while this client stays.
            let refused = try await RawClient.connect(port: port, from: "127.0.0.3")
            defer { refused.close() }
            #expect(try await refused.response()?.errorCode == "too_many_connections")
            let dropped = try await RawClient.connect(port: port, from: "127.0.0.4")
            defer { dropped.close() }
            #expect(try await dropped.wait { $0.serverClosed }, "closed at once")
            #expect(dropped.received.bytes.isEmpty, "without an answer")
        }
    }

    // MARK: Bodies too large

    /// A body of 64 MiB under `head`, sent whole before reading, as urllib does.
    static func sendLargeBody(to port: Int, head: String) async throws -> (sent: Bool, response: RawResponse?) {
        let raw = try await RawClient.connect(port: port)
        defer { raw.close() }
        try await raw.send(head + "Content-Length: \(64 << 20)\r\n\r\n")
        let sent = try await raw.sendAllBeforeReading([UInt8](repeating: 0x78, count: 64 << 20), timeout: .seconds(30))
        return (sent, try await raw.response())
    }

    @Test(arguments: ["keep-alive", "close"])
    func aJSONBodyTooLargeIs413ReadByAClientThatSendsItAllFirst(_ connection: String) async throws {
        // A header timeout longer than the test waits: no other deadline may rescue the exchange.
        try await Self.withLiveGateway({ $0.http.headerTimeout = .seconds(120) }) { port in
            let (sent, response) = try await Self.sendLargeBody(
                to: port, head: "POST /api/v1/projects/default/jobs HTTP/1.1\r\nHost: x\r\nConnection: \(connection)\r\nContent-Type: application/json\r\n")
            #expect(sent, "the gateway read and dropped the body after answering")
            #expect(response?.status == 413 && response?.errorCode == "body_too_large")
            #expect(response?.headers["connection"] == "close")
            #expect(response?.body.count == response?.headers["content-length"].flatMap(Int.init), "one answer, nothing after it")
        }
    }

    @Test func anUploadTooLargeIs413ReadByAClientThatSendsItAllFirst() async throws {
        try await Self.withLiveGateway({ $0.http.headerTimeout = .seconds(120) }) { port in
            let (sent, response) = try await Self.sendLargeBody(
                to: port, head: "POST /api/v1/projects/default/files?name=a.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer x\r\n")
            #expect(sent)
            #expect(response?.status == 413 && response?.errorCode == "body_too_large")
        }
    }

    @Test func whatIsDroppedAfterA413IsBounded() async throws {
        try await Self.withLiveGateway({ $0.http.lingerBytes = 1 << 20 }) { port in
            let raw = try await RawClient.connect(port: port)
            defer { raw.close() }
            try await raw.send("POST /api/v1/projects/default/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: \(64 << 20)\r\n\r\n")
            let sent = try await raw.sendAllBeforeReading([UInt8](repeating: 0x78, count: 64 << 20))
            #expect(!sent, "past 1 MiB the gateway stops reading and closes")
            #expect(try await raw.wait { $0.serverClosed })
        }
    }
}
