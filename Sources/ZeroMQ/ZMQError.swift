import CZeroMQ
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An error reported by libzmq, identified by its errno-style code.
public struct ZMQError: Error, CustomStringConvertible, Equatable {
    /// The errno value; libzmq-specific codes such as `ETERM` live above `ZMQ_HAUSNUMERO`.
    public let code: Int32

    /// Wraps an errno-style code.
    public init(code: Int32) {
        self.code = code
    }

    /// The error libzmq recorded for the calling thread's most recent failed call.
    static func last() -> ZMQError {
        ZMQError(code: zmq_errno())
    }

    /// The human-readable text libzmq gives for this code.
    public var message: String {
        String(cString: zmq_strerror(code))
    }

    /// The operation would have blocked (`EAGAIN`): nothing to receive, a full queue, or an expired timeout.
    public var isAgain: Bool { code == EAGAIN }

    /// A signal interrupted the call (`EINTR`); retrying is safe.
    public var isInterrupted: Bool { code == EINTR }

    /// The socket's context was shut down or terminated (`ETERM`); the socket should be closed.
    public var isTerminated: Bool { code == ETERM }

    /// A ROUTER with `routerMandatory` was asked to send to an unknown or disconnected peer (`EHOSTUNREACH`).
    public var isHostUnreachable: Bool { code == EHOSTUNREACH }

    /// The code and libzmq's text for it, e.g. "ZMQError(11): Resource temporarily unavailable".
    public var description: String {
        "ZMQError(\(code)): \(message)"
    }
}
