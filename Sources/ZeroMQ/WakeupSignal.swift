#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A pipe-based wake-up another thread can trigger so a socket's owner thread, polling the fd, wakes up. Thread-safe.
///
/// Add `fileDescriptor` to a `Poller` next to the socket; when it reports readable, call `drain()`
/// and then handle whatever the other thread queued. Notifications coalesce: several `notify()`
/// calls before a `drain()` wake the poller once.
///
/// A non-blocking pipe is used rather than an eventfd because Swift's Glibc module does not
/// import `<sys/eventfd.h>` (nor `pipe2`), and a pipe behaves the same on Linux and Darwin.
public final class WakeupSignal: @unchecked Sendable {
    /// The read end of the pipe: the descriptor to poll for readability.
    public let fileDescriptor: Int32
    /// The write end of the pipe, written by `notify()`.
    private let writeDescriptor: Int32

    /// Creates the underlying non-blocking, close-on-exec pipe.
    public init() throws {
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else { throw ZMQError(code: errno) }
        for end in ends {
            let statusFlags = fcntl(end, F_GETFL)
            if statusFlags < 0
                || fcntl(end, F_SETFL, statusFlags | O_NONBLOCK) < 0
                || fcntl(end, F_SETFD, FD_CLOEXEC) < 0 {
                let error = ZMQError(code: errno)
                close(ends[0])
                close(ends[1])
                throw error
            }
        }
        fileDescriptor = ends[0]
        writeDescriptor = ends[1]
    }

    deinit {
        close(fileDescriptor)
        close(writeDescriptor)
    }

    /// Makes `fileDescriptor` readable until the next `drain()`; callable from any thread.
    public func notify() {
        var byte: UInt8 = 1
        // EAGAIN means the pipe is full, so a wake-up is pending anyway.
        while write(writeDescriptor, &byte, 1) < 0 && errno == EINTR {}
    }

    /// Consumes all pending notifications so that `fileDescriptor` stops being readable.
    public func drain() {
        var buffer = [UInt8](repeating: 0, count: 256)
        while true {
            let count = read(fileDescriptor, &buffer, buffer.count)
            if count > 0 || (count < 0 && errno == EINTR) { continue }
            return  // EAGAIN: the pipe is empty.
        }
    }
}
