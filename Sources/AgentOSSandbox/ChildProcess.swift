import CSpawn
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// How a child process ended.
public struct ChildResult: Sendable {
    /// Its exit code, when it exited by itself.
    public var exitCode: Int?
    /// The signal that killed it, when one did.
    public var signal: Int?
    /// Captured stdout, at most the cap.
    public var stdout: [UInt8]
    /// Captured stderr, at most the cap.
    public var stderr: [UInt8]
    /// Whether either stream was cut at the cap.
    public var outputTruncated: Bool
    /// Killed at the wall-time limit.
    public var timedOut: Bool
    /// Killed because the caller cancelled.
    public var cancelled: Bool
    /// Wall time from spawn to reaping.
    public var duration: Duration
}

/// An error starting a child process.
public struct SpawnError: Error, CustomStringConvertible, Sendable {
    /// errno from posix_spawn or pipe creation.
    public let code: Int32
    /// What failed.
    public var description: String { "spawn failed: \(String(cString: strerror(code)))" }
}

/// Runs a program as the leader of its own session and process group, capturing capped
/// output, and kills the whole group at the wall-time limit, on cancel, and when the leader
/// exits (so nothing it left in the background survives the job). Blocking: call it from a
/// dedicated thread, never from a Swift concurrency thread.
public enum ChildProcess {
    /// Runs `arguments[0]` (an absolute path) to completion or the limit.
    public static func run(
        arguments: [String], environment: [String: String], directory: String?, timeout: Duration,
        maxOutputBytes: Int, isCancelled: () -> Bool
    ) throws -> ChildResult {
        let clock = ContinuousClock()
        let start = clock.now
        var outPipe: [Int32] = [-1, -1]
        var errPipe: [Int32] = [-1, -1]
        var rc = agentos_pipe(&outPipe)
        if rc == 0 { rc = agentos_pipe(&errPipe) }
        guard rc == 0 else {
            for fd in outPipe + errPipe where fd >= 0 { close(fd) }
            throw SpawnError(code: -rc)
        }
        let pid = withCStrings(arguments) { argv in
            withCStrings(environment.map { "\($0.key)=\($0.value)" }.sorted()) { envp in
                agentos_spawn(arguments[0], argv, envp, directory, outPipe[1], errPipe[1])
            }
        }
        close(outPipe[1])
        close(errPipe[1])
        guard pid > 0 else {
            close(outPipe[0])
            close(errPipe[0])
            throw SpawnError(code: -pid)
        }

        var stdout = Capture(limit: maxOutputBytes)
        var stderr = Capture(limit: maxOutputBytes)
        var open: [(fd: Int32, isStdout: Bool)] = [(outPipe[0], true), (errPipe[0], false)]
        let deadline = start.advanced(by: timeout)
        var status: Int32 = 0
        var exited = false
        var timedOut = false
        var cancelled = false
        var drainDeadline: ContinuousClock.Instant?

        while true {
            if !exited, waitpid(pid, &status, WNOHANG) == pid {
                exited = true
                killpg(pid, SIGKILL)
                // Output still in the pipes stays readable; a writer that escaped the group
                // must not hold the job open, so draining gets a short grace only.
                drainDeadline = clock.now.advanced(by: .milliseconds(200))
            }
            if open.isEmpty && exited { break }
            if let drainDeadline, clock.now >= drainDeadline { break }
            if !exited && !timedOut && !cancelled {
                if clock.now >= deadline {
                    timedOut = true
                    killpg(pid, SIGKILL)
                } else if isCancelled() {
                    cancelled = true
                    killpg(pid, SIGKILL)
                }
            }
            if open.isEmpty {
                usleep(5_000)
                continue
            }
            var fds = open.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
            let ready = poll(&fds, nfds_t(fds.count), 50)
            guard ready > 0 else { continue }
            var stillOpen: [(fd: Int32, isStdout: Bool)] = []
            for (index, entry) in open.enumerated() {
                let keep = fds[index].revents == 0
                    || (entry.isStdout ? stdout.read(from: entry.fd) : stderr.read(from: entry.fd))
                if keep { stillOpen.append(entry) } else { close(entry.fd) }
            }
            open = stillOpen
        }
        for entry in open { close(entry.fd) }
        if !exited {
            killpg(pid, SIGKILL)
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        }
        let termSignal = status & 0x7f
        return ChildResult(
            exitCode: termSignal == 0 ? Int((status >> 8) & 0xff) : nil,
            signal: termSignal == 0 ? nil : Int(termSignal),
            stdout: stdout.bytes, stderr: stderr.bytes,
            outputTruncated: stdout.truncated || stderr.truncated,
            timedOut: timedOut, cancelled: cancelled, duration: clock.now - start)
    }

    /// Reads a stream, keeping the first `limit` bytes and discarding the rest so the writer never blocks.
    private struct Capture {
        let limit: Int
        var bytes: [UInt8] = []
        var truncated = false

        /// Reads what is available; false at end of stream.
        mutating func read(from fd: Int32) -> Bool {
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while true {
                let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
                if n > 0 {
                    let room = max(0, limit - bytes.count)
                    if n > room { truncated = true }
                    bytes.append(contentsOf: buffer[0..<min(n, room)])
                    continue
                }
                if n == 0 { return false }
                if errno == EINTR { continue }
                return errno == EAGAIN || errno == EWOULDBLOCK
            }
        }
    }
}

/// Calls `body` with a NULL-terminated C array of the strings.
private func withCStrings<R>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> R) -> R {
    let pointers = strings.map { strdup($0) }
    defer { pointers.forEach { free($0) } }
    return body(pointers + [nil])
}
