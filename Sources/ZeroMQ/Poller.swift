import CZeroMQ

/// Polls sockets and plain file descriptors (zmq_poll). Value type built per loop or reused.
///
/// Only readability (`ZMQ_POLLIN`) is watched: for a socket that means a whole message can be
/// received, for a file descriptor that the descriptor is readable.
public struct Poller {
    /// Something the poller watches.
    public enum Item {
        /// A libzmq socket; it must stay open while it is polled and belong to the polling thread.
        case socket(Socket)
        /// A plain file descriptor, such as a `WakeupSignal`'s.
        case fd(Int32)
    }

    /// The watched items; an item's position is the index `add` returned and `poll` reports.
    public private(set) var items: [Item] = []
    /// The C array handed to `zmq_poll`, kept between calls so repeated polls do not reallocate.
    private var pollItems: [zmq_pollitem_t] = []

    /// Creates a poller that watches nothing yet.
    public init() {}

    /// Watches a socket for incoming messages and returns its index.
    @discardableResult
    public mutating func add(_ socket: Socket) -> Int {
        items.append(.socket(socket))
        return items.count - 1
    }

    /// Watches a file descriptor for readability and returns its index.
    @discardableResult
    public mutating func add(fd: Int32) -> Int {
        items.append(.fd(fd))
        return items.count - 1
    }

    /// Waits up to timeoutMs (-1 forever) and returns the indexes that are readable. Retries EINTR by returning [].
    public mutating func poll(timeoutMs: Int) throws -> Set<Int> {
        // Socket handles are looked up on every call so that a closed socket fails with ENOTSOCK
        // instead of handing libzmq a freed handle.
        pollItems.removeAll(keepingCapacity: true)
        for item in items {
            switch item {
            case .socket(let socket):
                pollItems.append(zmq_pollitem_t(socket: try socket.openHandle(), fd: -1, events: Int16(ZMQ_POLLIN), revents: 0))
            case .fd(let fd):
                pollItems.append(zmq_pollitem_t(socket: nil, fd: fd, events: Int16(ZMQ_POLLIN), revents: 0))
            }
        }

        let count = zmq_poll(&pollItems, Int32(pollItems.count), timeoutMs)
        if count < 0 {
            let error = ZMQError.last()
            // A signal cut the wait short; callers loop anyway, so report "nothing ready".
            if error.isInterrupted { return [] }
            throw error
        }
        var readable = Set<Int>()
        for (index, pollItem) in pollItems.enumerated() where pollItem.revents & Int16(ZMQ_POLLIN) != 0 {
            readable.insert(index)
        }
        return readable
    }
}
