import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTPTypes
import NIOHTTPTypesHTTP1

/// Hummingbird's HTTP/1.1 channel with a `ConnectionGuard` around it: the decoder's limits
/// come from `HTTPServerLimits`, each new connection is admitted (or refused) by the server's
/// `ConnectionLimiter`, and the guard's two handlers go in front of the decoder and after the
/// codec.
public struct GuardedHTTP1Channel: ServerChildChannel, HTTPChannelHandler {
    public typealias Value = NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>

    public let responder: HTTPChannelHandler.Responder
    let limits: HTTPServerLimits
    let limiter: ConnectionLimiter
    let http1: HTTP1Channel

    /// A channel answering with `responder`, within `limits`.
    public init(responder: @escaping HTTPChannelHandler.Responder, limits: HTTPServerLimits) {
        self.responder = responder
        self.limits = limits
        limiter = ConnectionLimiter(limits: limits)
        var configuration = HTTP1Channel.Configuration()
        configuration.httpDecoder = .init(
            maxHeaderFieldSize: limits.maxHeadBytes, maxHeaderListSize: limits.maxHeadBytes, maxHeaderFieldCount: limits.maxHeaderCount)
        http1 = HTTP1Channel(responder: responder, configuration: configuration)
    }

    public func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        // A refused connection still gets the whole pipeline: failing this setup would end the
        // server's accept loop. Its guard answers and closes it before a byte is decoded.
        let address = channel.remoteAddress?.ipAddress ?? ""
        let admission = limiter.admit(address: address)
        channel.closeFuture.whenComplete { [limiter] _ in limiter.release(address: address, admission) }
        return http1.setup(channel: channel, logger: logger).flatMapThrowing { value in
            let connection = ConnectionGuard(limits: limits, admission: admission)
            let pipeline = channel.pipeline.syncOperations
            try pipeline.addHandler(connection.bytes, position: .first)
            try pipeline.addHandler(connection.parts, position: .after(try pipeline.handler(type: HTTP1ToHTTPServerCodec.self)))
            return value
        }
    }

    public func handle(value: Value, logger: Logger) async {
        await handleHTTP(asyncChannel: value, logger: logger)
    }
}

extension HTTPServerBuilder {
    /// HTTP/1.1 behind a `ConnectionGuard` with these limits.
    public static func guardedHTTP1(_ limits: HTTPServerLimits) -> HTTPServerBuilder {
        .init { responder in GuardedHTTP1Channel(responder: responder, limits: limits) }
    }
}

extension HTTPServerLimits {
    /// Hummingbird's configuration for a server listening on `host:port` within these limits:
    /// it stops accepting at `maxOpenConnections`.
    public func applicationConfiguration(host: String, port: Int, serverName: String) -> ApplicationConfiguration {
        ApplicationConfiguration(
            address: .hostname(host, port: port), serverName: serverName,
            availableConnectionsDelegate: MaximumAvailableConnections(maxOpenConnections))
    }
}
