import CZeroMQ

/// A libzmq context: owns the I/O threads and is the factory for sockets.
///
/// libzmq contexts are thread-safe, so one context may be shared by all threads of a process.
/// Every socket keeps its context alive, so the context is terminated (`zmq_ctx_term`) only once
/// all of its sockets have been released. Termination waits for each socket's linger period, so
/// a socket left with the default infinite linger and undeliverable messages blocks that step;
/// set `Socket.setLinger(_:)` to a finite value on sockets that may hold unsent messages.
public final class Context: @unchecked Sendable {
    /// The raw `void *` context handle, valid for the lifetime of this object.
    let handle: UnsafeMutableRawPointer

    /// Creates a context with the given number of background I/O threads and, when given,
    /// room for more sockets than libzmq's default of 1023.
    public init(ioThreads: Int = 1, maxSockets: Int? = nil) throws {
        guard let handle = zmq_ctx_new() else { throw ZMQError.last() }
        var options = [(ZMQ_IO_THREADS, Int32(ioThreads))]
        if let maxSockets { options.append((ZMQ_MAX_SOCKETS, Int32(clamping: maxSockets))) }
        for (option, value) in options where zmq_ctx_set(handle, option, value) != 0 {
            let error = ZMQError.last()
            zmq_ctx_term(handle)
            throw error
        }
        self.handle = handle
    }

    /// Creates a socket of the given type belonging to this context.
    public func makeSocket(_ type: SocketType) throws -> Socket {
        guard let socketHandle = zmq_socket(handle, type.rawValue) else { throw ZMQError.last() }
        return Socket(handle: socketHandle, type: type, context: self)
    }

    /// Shuts the context down (`zmq_ctx_shutdown`): blocking and later calls on its sockets fail with `ETERM`.
    ///
    /// Safe to call from any thread, which is how a thread blocked in `Socket.receive` is woken for exit.
    /// The sockets must still be closed by their owners before the context can be terminated.
    public func shutdown() {
        zmq_ctx_shutdown(handle)
    }

    deinit {
        // zmq_ctx_term can be interrupted by a signal while waiting for lingering sockets.
        while zmq_ctx_term(handle) != 0 && ZMQError.last().isInterrupted {}
    }
}
