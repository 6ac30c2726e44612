#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The ZeroMQ Authentication Protocol (ZAP, ZeroMQ RFC 27): what libzmq asks the handler
/// bound at `ZAPRequest.endpoint` about each connecting peer, during the handshake and before
/// any of the peer's messages reach the socket.
public struct ZAPRequest: Sendable, Equatable {
    /// Where a context's ZAP handler binds (a `REP` or `ROUTER` socket of the same context).
    public static let endpoint = "inproc://zeromq.zap.01"

    /// Echoed in the reply.
    public let requestID: [UInt8]
    /// The `ZMQ_ZAP_DOMAIN` of the socket the peer connects to.
    public let domain: String
    /// The peer's address, e.g. "192.0.2.7".
    public let address: String
    /// `NULL`, `PLAIN` or `CURVE`.
    public let mechanism: String
    /// The mechanism's credentials: for `CURVE`, one frame holding the client's 32-byte public key.
    public let credentials: [[UInt8]]

    /// Parses `[version, request id, domain, address, identity, mechanism, credentials…]`
    /// (the envelope already stripped by a `REP` socket).
    public init(frames: [[UInt8]]) throws {
        guard frames.count >= 6, frames[0].elementsEqual("1.0".utf8) else { throw ZMQError(code: EPROTO) }
        requestID = frames[1]
        domain = String(decoding: frames[2], as: UTF8.self)
        address = String(decoding: frames[3], as: UTF8.self)
        mechanism = String(decoding: frames[5], as: UTF8.self)
        credentials = Array(frames[6...])
    }

    /// The CURVE client's public key in Z85, or nil for another mechanism.
    public var curvePublicKey: String? {
        guard mechanism == "CURVE", credentials.count == 1, credentials[0].count == 32 else { return nil }
        return try? Z85.encode(credentials[0])
    }

    /// The reply frames: `[version, request id, status code, status text, user id, metadata]`.
    /// The user id becomes the `User-Id` property of the peer's messages.
    public func reply(_ status: ZAPStatus, _ text: String, userID: String = "") -> [[UInt8]] {
        [Array("1.0".utf8), requestID, Array(status.rawValue.utf8), Array(text.utf8), Array(userID.utf8), []]
    }
}

/// A ZAP verdict.
public enum ZAPStatus: String, Sendable {
    /// The peer may connect.
    case success = "200"
    /// The handler cannot decide now (say, its database is down): the peer may retry.
    case temporaryError = "300"
    /// The peer is refused; its client sees `ZMQ_EVENT_HANDSHAKE_FAILED_AUTH` with 400.
    case authenticationFailure = "400"
    /// The handler failed.
    case internalError = "500"
}
