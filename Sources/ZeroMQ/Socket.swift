import CZeroMQ
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A libzmq socket.
///
/// Not thread-safe: exactly one thread may use a socket at a time, and handing it to another
/// thread needs a happens-before edge (for example a lock or a queue). It is marked
/// `@unchecked Sendable` only so that it can be created on one thread and handed to its owner thread.
/// The socket keeps its `Context` alive and is closed by `close()` or, at the latest, on deinit.
public final class Socket: @unchecked Sendable {
    /// The messaging pattern this socket was created with.
    public let type: SocketType
    /// The context this socket belongs to, retained so that it cannot be terminated under the socket.
    public let context: Context
    /// The raw `void *` socket handle; nil once closed.
    private var handle: UnsafeMutableRawPointer?

    /// Wraps a handle freshly returned by `zmq_socket`; use `Context.makeSocket(_:)`.
    init(handle: UnsafeMutableRawPointer, type: SocketType, context: Context) {
        self.handle = handle
        self.type = type
        self.context = context
    }

    deinit {
        close()
    }

    /// The open handle, or `ENOTSOCK` once the socket is closed, mirroring libzmq's own error for stale sockets.
    func openHandle() throws -> UnsafeMutableRawPointer {
        guard let handle else { throw ZMQError(code: ENOTSOCK) }
        return handle
    }

    /// Closes the socket; unsent messages are kept for the linger period. Calling it again does nothing.
    public func close() {
        guard let handle else { return }
        zmq_close(handle)
        self.handle = nil
    }

    /// Accepts connections on an endpoint such as "tcp://127.0.0.1:*", "ipc:///tmp/x" or "inproc://name".
    public func bind(_ endpoint: String) throws {
        try check(zmq_bind(openHandle(), endpoint))
    }

    /// Connects to an endpoint; for tcp the connection is made (and remade) in the background.
    public func connect(_ endpoint: String) throws {
        try check(zmq_connect(openHandle(), endpoint))
    }

    /// Stops accepting on an endpoint previously bound; use `lastEndpoint` for wildcard binds.
    public func unbind(_ endpoint: String) throws {
        try check(zmq_unbind(openHandle(), endpoint))
    }

    /// Disconnects from an endpoint previously connected.
    public func disconnect(_ endpoint: String) throws {
        try check(zmq_disconnect(openHandle(), endpoint))
    }

    /// Sends a multipart message. Returns false (sent nothing) when dontWait and the send would block (EAGAIN). Throws other errors (e.g. EHOSTUNREACH with routerMandatory).
    @discardableResult
    public func send(_ frames: [[UInt8]], dontWait: Bool = false) throws -> Bool {
        try sendMessage(frames, dontWait: dontWait)
    }

    /// Sends a multipart message. Returns false (sent nothing) when dontWait and the send would block (EAGAIN). Throws other errors (e.g. EHOSTUNREACH with routerMandatory).
    @discardableResult
    public func send(_ frames: [Data], dontWait: Bool = false) throws -> Bool {
        try sendMessage(frames, dontWait: dontWait)
    }

    /// Receives one whole multipart message; nil when dontWait and nothing is waiting (EAGAIN) or when a receiveTimeout expires. Retries EINTR.
    public func receive(dontWait: Bool = false) throws -> [[UInt8]]? {
        let handle = try openHandle()
        var message = zmq_msg_t()
        zmq_msg_init(&message)
        defer { zmq_msg_close(&message) }

        var frames: [[UInt8]] = []
        while true {
            // libzmq delivers multipart messages atomically, so only the first frame can be missing.
            let flags = frames.isEmpty && dontWait ? ZMQ_DONTWAIT : 0
            if zmq_msg_recv(&message, handle, flags) < 0 {
                let error = ZMQError.last()
                if error.isInterrupted { continue }
                if error.isAgain && frames.isEmpty { return nil }
                throw error
            }
            let size = zmq_msg_size(&message)
            frames.append(size == 0 ? [] : Array(UnsafeRawBufferPointer(start: zmq_msg_data(&message), count: size)))
            if zmq_msg_more(&message) == 0 { return frames }
        }
    }

    /// Copies each frame into a `zmq_msg_t` and sends it, flagging every frame but the last with `ZMQ_SNDMORE`.
    private func sendMessage<Frame: ContiguousBytes>(_ frames: [Frame], dontWait: Bool) throws -> Bool {
        let handle = try openHandle()
        guard !frames.isEmpty else { throw ZMQError(code: EINVAL) }

        for (index, frame) in frames.enumerated() {
            var message = zmq_msg_t()
            try frame.withUnsafeBytes { bytes in
                try check(zmq_msg_init_size(&message, bytes.count))
                if let source = bytes.baseAddress, bytes.count > 0 {
                    zmq_msg_data(&message).copyMemory(from: source, byteCount: bytes.count)
                }
            }
            defer { zmq_msg_close(&message) }

            var flags: Int32 = index < frames.count - 1 ? ZMQ_SNDMORE : 0
            // Once libzmq accepts the first frame it accepts the rest of the message without
            // blocking, so only the first frame may report EAGAIN; the others are sent plainly
            // so that a message can never be left half-sent.
            if dontWait && index == 0 { flags |= ZMQ_DONTWAIT }
            while zmq_msg_send(&message, handle, flags) < 0 {
                let error = ZMQError.last()
                if error.isInterrupted { continue }
                if error.isAgain && dontWait && index == 0 { return false }
                throw error
            }
        }
        return true
    }
}

/// Throws libzmq's current error when a C call returned its -1 failure value.
func check(_ result: Int32) throws {
    if result == -1 { throw ZMQError.last() }
}
