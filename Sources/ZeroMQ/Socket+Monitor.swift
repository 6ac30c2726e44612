import CZeroMQ
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// What a socket monitor reports (`zmq_socket_monitor`): the connection events a client
/// needs to explain a handshake that fails.
public struct MonitorEvent: Sendable, Equatable {
    /// The `ZMQ_EVENT_*` bit.
    public let event: Int32
    /// The event's value: for a failed handshake, an errno or (for `handshakeFailedAuth`) the ZAP status code.
    public let value: UInt32
    /// The endpoint it concerns.
    public let endpoint: String

    /// The handshake finished (`ZMQ_EVENT_HANDSHAKE_SUCCEEDED`).
    public static let handshakeSucceeded = ZMQ_EVENT_HANDSHAKE_SUCCEEDED
    /// The handshake failed without the peer saying why: with CURVE, usually the wrong server key (`ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL`).
    public static let handshakeFailedNoDetail = ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL
    /// The peers disagree on the protocol or the security mechanism (`ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL`).
    public static let handshakeFailedProtocol = ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
    /// The server's ZAP handler refused this peer (`ZMQ_EVENT_HANDSHAKE_FAILED_AUTH`).
    public static let handshakeFailedAuth = ZMQ_EVENT_HANDSHAKE_FAILED_AUTH

    /// The value of `handshakeFailedProtocol` when one side runs CURVE and the other not
    /// (`ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH`).
    public static let mechanismMismatch = UInt32(ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH)

    /// Parses a monitor message: `[event (u16) + value (u32), endpoint]`, little-endian.
    public init?(frames: [[UInt8]]) {
        guard frames.count == 2, frames[0].count == 6 else { return nil }
        let head = frames[0]
        event = Int32(UInt16(head[0]) | UInt16(head[1]) << 8)
        value = UInt32(head[2]) | UInt32(head[3]) << 8 | UInt32(head[4]) << 16 | UInt32(head[5]) << 24
        endpoint = String(decoding: frames[1], as: UTF8.self)
    }
}

extension Socket {
    /// Starts monitoring this socket for `events` (a mask of `MonitorEvent`'s constants) and
    /// returns the `PAIR` socket the events arrive on. Poll it on the thread that owns this
    /// socket; close it before or with this one.
    public func monitor(events: Int32) throws -> Socket {
        let endpoint = "inproc://agentos-monitor-\(UUID().uuidString)"
        try check(zmq_socket_monitor(openHandle(), endpoint, events))
        let pair = try context.makeSocket(.pair)
        // Events are queued for the pair without limit, so a burst cannot block the I/O thread.
        try pair.setReceiveHighWaterMark(0)
        try pair.setLinger(0)
        try pair.connect(endpoint)
        return pair
    }

    /// Stops the monitor started by `monitor(events:)`; call it before closing the pair, so
    /// libzmq never sends an event to a pair that is gone.
    public func stopMonitoring() {
        guard let handle = try? openHandle() else { return }
        zmq_socket_monitor(handle, nil, 0)
    }
}
