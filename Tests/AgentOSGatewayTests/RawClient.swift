import Foundation
import NIOCore
import NIOPosix
import Synchronization
import Testing

/// A TCP client below HTTP: it sends bytes exactly as given (malformed framing, half a head, a
/// body nobody reads) and collects what the server sends back, so tests see the connection as
/// a misbehaving client would.
final class RawClient: Sendable {
    /// What came back so far, and whether the server has ended its side.
    struct Received: Sendable {
        var bytes: [UInt8] = []
        /// The server closed (or reset) the connection, or at least its sending side.
        var serverClosed = false
    }

    private final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let state = Mutex(Received())

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = unwrapInboundIn(data)
            state.withLock { $0.bytes += buffer.readableBytesView }
        }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if case ChannelEvent.inputClosed = event { state.withLock { $0.serverClosed = true } }
            context.fireUserInboundEventTriggered(event)
        }

        func channelInactive(context: ChannelHandlerContext) {
            state.withLock { $0.serverClosed = true }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }

    let channel: any Channel
    private let collector: Collector

    private init(channel: any Channel, collector: Collector) {
        self.channel = channel
        self.collector = collector
    }

    /// Connects to `127.0.0.1:port`, from `localAddress` when given (any 127.x.y.z works on
    /// Linux, so a test can be several clients).
    static func connect(port: Int, from localAddress: String? = nil) async throws -> RawClient {
        let collector = Collector()
        var bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            // Keep sending after the server has closed its side, as a client busy uploading does.
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(collector) }
            }
        if let localAddress {
            bootstrap = bootstrap.bind(to: try SocketAddress(ipAddress: localAddress, port: 0))
        }
        let channel = try await bootstrap.connect(host: "127.0.0.1", port: port).get()
        return RawClient(channel: channel, collector: collector)
    }

    /// Sends the bytes and returns once they are written to the socket.
    func send(_ bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(ByteBuffer(bytes: bytes))
    }

    func send(_ text: String) async throws {
        try await send(Array(text.utf8))
    }

    /// Sends the bytes without reading anything meanwhile, as a client that reads its answer
    /// only once the request is out (Python's urllib). True once the kernel took them all;
    /// false when the server stopped reading (or closed) for `timeout`.
    func sendAllBeforeReading(_ bytes: [UInt8], timeout: Duration = .seconds(60)) async throws -> Bool {
        let outcome = Mutex<Bool?>(nil)
        channel.writeAndFlush(ByteBuffer(bytes: bytes)).whenComplete { result in
            outcome.withLock { $0 = (try? result.get()) != nil }
        }
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let sent = outcome.withLock({ $0 }) { return sent }
            try await Task.sleep(for: .milliseconds(20))
        }
        return false
    }

    /// Ends this side of the connection (the server reads EOF) and keeps reading.
    func finishSending() async throws {
        try await channel.close(mode: .output)
    }

    var received: Received { collector.state.withLock { $0 } }

    /// Waits until `condition` holds for what came back; false when `timeout` passed first.
    func wait(timeout: Duration = .seconds(30), until condition: (Received) -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if condition(received) { return true }
            try await Task.sleep(for: .milliseconds(20))
        }
        return condition(received)
    }

    /// Waits for the server to close the connection and returns the response it sent, if any.
    func responseWhenClosed(timeout: Duration = .seconds(30)) async throws -> RawResponse? {
        let closed = try await wait(timeout: timeout) { $0.serverClosed }
        #expect(closed, "the server did not close the connection within \(timeout)")
        return RawResponse(received.bytes)
    }

    /// Waits for one whole response (head and `Content-Length` body) and returns it.
    func response(timeout: Duration = .seconds(30)) async throws -> RawResponse? {
        _ = try await wait(timeout: timeout) { RawResponse($0.bytes)?.isComplete == true || $0.serverClosed }
        return RawResponse(received.bytes)
    }

    func close() {
        channel.close(promise: nil)
    }
}

/// An HTTP/1.1 response parsed from raw bytes: status, headers (names lower-cased), body.
struct RawResponse: Sendable {
    let status: Int
    let headers: [String: String]
    let body: [UInt8]

    init?(_ bytes: [UInt8]) {
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        guard let end = bytes.indices.first(where: { bytes[$0...].starts(with: separator) }) else { return nil }
        let lines = String(decoding: bytes[..<end], as: UTF8.self).components(separatedBy: "\r\n")
        let statusLine = lines[0].split(separator: " ")
        guard statusLine.count >= 2, statusLine[0].hasPrefix("HTTP/1."), let status = Int(statusLine[1]) else { return nil }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        self.status = status
        self.headers = headers
        self.body = Array(bytes[(end + separator.count)...])
    }

    /// The body holds all the bytes `Content-Length` announced.
    var isComplete: Bool { headers["content-length"].flatMap(Int.init).map { body.count >= $0 } ?? false }

    /// `error.code` of a JSON error body.
    var errorCode: String? {
        let json = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]
        return (json?["error"] as? [String: Any])?["code"] as? String
    }

    /// `error.message` of a JSON error body.
    var errorMessage: String? {
        let json = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]
        return (json?["error"] as? [String: Any])?["message"] as? String
    }
}
