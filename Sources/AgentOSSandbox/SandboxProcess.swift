import CSpawn
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// An error starting or talking to a sandbox.
public struct SandboxError: Error, CustomStringConvertible, Sendable {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }

    /// An errno as a message.
    static func errno(_ code: Int32, _ what: String) -> SandboxError {
        SandboxError("\(what): \(String(cString: strerror(code)))")
    }
}

/// How to start one sandbox process: the program, its environment and descriptors, and what
/// the spawn does before exec.
struct SpawnPlan {
    var arguments: [String]
    var environment: [String: String]
    /// Working directory on the host (unsandboxed runs only; bubblewrap chdirs itself).
    var directory: String?
    /// Descriptors 5 and up in the child, in order (bind sources for bubblewrap).
    var extraDescriptors: [Int32] = []
    /// Drop to this uid/gid first when the worker runs as root.
    var user: (uid: UInt32, gid: UInt32)?
    var newUserNamespace = false
    var newNetworkNamespace = false
    var limits: [(resource: Int32, value: UInt64)] = []
}

/// How a sandbox run ended.
struct SandboxRun {
    var exitCode: Int?
    var signal: Int?
    var stdout: [UInt8]
    var stderr: [UInt8]
    /// What the runner wrote after `ready`: the outcome as JSON (empty when it wrote none).
    var report: [UInt8]
    /// Which stream went over its cap, when one did (the process was then killed).
    var overflow: String?
    var timedOut = false
    var cancelled = false
}

/// One started sandbox: a runner waiting for a job on its control pipe, its output pipes, and
/// the process (bubblewrap, or the interpreter itself when unsandboxed) that leads it. Each
/// runs one job and is thrown away. Blocking: use it from dedicated threads, never from a
/// Swift concurrency thread. The thread that starts it must outlive it (the process dies with
/// that thread).
final class SandboxProcess: @unchecked Sendable {
    let pid: pid_t
    let directory: JobDirectory
    /// Whether the exit status comes through bubblewrap (a signal shows as 128 + N).
    let viaBubblewrap: Bool
    private var stdoutFD: Int32
    private var stderrFD: Int32
    private var controlIn: Int32
    private var controlOut: Int32
    private var reaped = false

    private init(pid: pid_t, directory: JobDirectory, viaBubblewrap: Bool, fds: (Int32, Int32, Int32, Int32)) {
        self.pid = pid
        self.directory = directory
        self.viaBubblewrap = viaBubblewrap
        (stdoutFD, stderrFD, controlIn, controlOut) = fds
    }

    deinit {
        kill()
        for fd in [stdoutFD, stderrFD, controlIn, controlOut] where fd >= 0 { close(fd) }
        directory.remove()
    }

    /// Starts `plan` with stdin from /dev/null, stdout and stderr on pipes, and the control
    /// pipes on descriptors 3 (job settings in) and 4 (ready and outcome out).
    static func start(_ plan: SpawnPlan, directory: JobDirectory, viaBubblewrap: Bool) throws -> SandboxProcess {
        var pipes: [[Int32]] = []
        defer { for pair in pipes { for fd in pair where fd >= 0 { close(fd) } } }
        for _ in 0..<4 {
            var pair: [Int32] = [-1, -1]
            let rc = agentos_pipe(&pair)
            guard rc == 0 else { throw SandboxError.errno(-rc, "pipe") }
            pipes.append(pair)
        }
        // pipes: 0 stdout, 1 stderr, 2 control in (we write), 3 control out (we read).
        let devNull = open("/dev/null", O_RDONLY | O_CLOEXEC)
        guard devNull >= 0 else { throw SandboxError.errno(errno, "open /dev/null") }
        defer { close(devNull) }
        // agentos_pipe makes the parent's read end non-blocking: the child's read end of the
        // control-in pipe must block, so that one is made here with the roles swapped.
        let controlIn = pipes[2]
        var flags = fcntl(controlIn[0], F_GETFL)
        _ = fcntl(controlIn[0], F_SETFL, flags & ~O_NONBLOCK)
        flags = fcntl(controlIn[1], F_GETFL)
        _ = fcntl(controlIn[1], F_SETFL, flags | O_NONBLOCK)
        let childFDs: [Int32] = [devNull, pipes[0][1], pipes[1][1], controlIn[0], pipes[3][1]] + plan.extraDescriptors

        let environment = plan.environment.map { "\($0.key)=\($0.value)" }.sorted()
        let limits = plan.limits.map { agentos_rlimit(resource: $0.resource, soft: $0.value, hard: $0.value) }
        let pid: pid_t = withCStrings(plan.arguments) { argv in
            withCStrings(environment) { envp in
                argv.withUnsafeBufferPointer { argv in
                    envp.withUnsafeBufferPointer { envp in
                        childFDs.withUnsafeBufferPointer { fds in
                            limits.withUnsafeBufferPointer { limitPointer in
                                withOptionalCString(plan.directory) { cwd in
                                    var request = agentos_sandbox_spawn()
                                    request.path = UnsafePointer(argv[0])
                                    request.argv = argv.baseAddress
                                    request.envp = envp.baseAddress
                                    request.cwd = cwd
                                    request.fds = fds.baseAddress
                                    request.fd_count = Int32(fds.count)
                                    request.uid = plan.user?.uid ?? UInt32.max
                                    request.gid = plan.user?.gid ?? UInt32.max
                                    request.new_user_namespace = plan.newUserNamespace ? 1 : 0
                                    request.new_network_namespace = plan.newNetworkNamespace ? 1 : 0
                                    request.limits = limitPointer.baseAddress
                                    request.limit_count = Int32(limitPointer.count)
                                    return agentos_spawn_sandboxed(&request)
                                }
                            }
                        }
                    }
                }
            }
        }
        guard pid > 0 else { throw SandboxError.errno(-pid, "starting the sandbox failed") }
        let process = SandboxProcess(
            pid: pid, directory: directory, viaBubblewrap: viaBubblewrap,
            fds: (pipes[0][0], pipes[1][0], controlIn[1], pipes[3][0]))
        // Ours now: the process owns them; the child's ends close with the defer.
        pipes[0][0] = -1
        pipes[1][0] = -1
        pipes[2][1] = -1
        pipes[3][0] = -1
        return process
    }

    /// Waits until the runner says it is ready, or fails when it exits or takes longer than `timeout`.
    /// Anything it printed on the way (bubblewrap's errors) is in the error.
    func waitReady(timeout: Duration) throws {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        var line: [UInt8] = []
        let ready = Array(RunnerScript.readyLine.utf8)
        while line.count < ready.count {
            let remaining = deadline - ContinuousClock.now
            guard remaining > .zero else { throw failure("the sandbox did not start within \(timeout)") }
            var fds = [pollfd(fd: controlOut, events: Int16(POLLIN), revents: 0)]
            let waitMS = Int32(min(1000, max(1, remaining.components.seconds * 1000 + remaining.components.attoseconds / 1_000_000_000_000_000)))
            guard poll(&fds, 1, waitMS) > 0 else { continue }
            var byte: UInt8 = 0
            let n = read(controlOut, &byte, 1)
            if n == 1 {
                line.append(byte)
            } else if n == 0 {
                throw failure("the sandbox exited before it was ready")
            } else if errno != EAGAIN && errno != EINTR {
                throw failure("reading from the sandbox failed")
            }
        }
        guard line == ready else { throw failure("the sandbox said something unexpected") }
    }

    /// Whether it has exited (it is then reaped and useless).
    var hasExited: Bool {
        guard !reaped else { return true }
        var status: Int32 = 0
        if waitpid(pid, &status, WNOHANG) == pid { reaped = true }
        return reaped
    }

    /// Kills the whole sandbox. With bubblewrap, the sandbox's own processes die with it.
    func kill() {
        guard !reaped else { return }
        killpg(pid, SIGKILL)
        Glibc.kill(pid, SIGKILL)
    }

    /// Hands the runner its job settings and captures everything until it ends, a limit is
    /// hit, or `isCancelled` says so. `maxOutputBytes` caps stdout and stderr each; a stream
    /// going past it kills the sandbox.
    func run(settings: [UInt8], timeout: Duration, maxOutputBytes: Int, maxReportBytes: Int, isCancelled: () -> Bool) -> SandboxRun {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        var outcome = SandboxRun(stdout: [], stderr: [], report: [])
        var toSend = settings[...]
        var streams = [
            Capture(fd: stdoutFD, name: "stdout", limit: maxOutputBytes),
            Capture(fd: stderrFD, name: "stderr", limit: maxOutputBytes),
            Capture(fd: controlOut, name: "result", limit: maxReportBytes),
        ]
        stdoutFD = -1
        stderrFD = -1
        controlOut = -1
        var status: Int32 = 0
        var exited = false
        var stopped = false
        var drainDeadline: ContinuousClock.Instant?

        func stop() {
            stopped = true
            kill()
        }

        while true {
            // The settings are small (well under a pipe's buffer); a runner that does not read
            // them is caught by the deadline like any other hang.
            if !toSend.isEmpty, controlIn >= 0 {
                let n = toSend.withUnsafeBytes { write(controlIn, $0.baseAddress, $0.count) }
                if n > 0 { toSend = toSend.dropFirst(n) }
                if toSend.isEmpty || (n < 0 && errno != EAGAIN && errno != EINTR) {
                    close(controlIn)
                    controlIn = -1
                }
            }
            if !exited, waitpid(pid, &status, WNOHANG) == pid {
                exited = true
                reaped = true
                // Output still in the pipes stays readable; a writer that escaped must not
                // hold the job open, so draining gets a short grace only.
                drainDeadline = clock.now.advanced(by: .milliseconds(200))
            }
            let open = streams.indices.filter { streams[$0].fd >= 0 }
            if open.isEmpty && exited { break }
            if let drainDeadline, clock.now >= drainDeadline { break }
            if !exited && !stopped {
                if clock.now >= deadline {
                    outcome.timedOut = true
                    stop()
                } else if isCancelled() {
                    outcome.cancelled = true
                    stop()
                }
            }
            if open.isEmpty {
                usleep(5_000)
                continue
            }
            var fds = open.map { pollfd(fd: streams[$0].fd, events: Int16(POLLIN), revents: 0) }
            guard poll(&fds, nfds_t(fds.count), 50) > 0 else { continue }
            for (slot, index) in open.enumerated() where fds[slot].revents != 0 {
                streams[index].read()
                if streams[index].overflowed, outcome.overflow == nil, !stopped {
                    outcome.overflow = streams[index].name
                    stop()
                }
            }
        }
        for index in streams.indices { streams[index].close() }
        if controlIn >= 0 {
            close(controlIn)
            controlIn = -1
        }
        if !exited {
            kill()
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            reaped = true
        }
        let termSignal = status & 0x7f
        if termSignal != 0 {
            outcome.signal = Int(termSignal)
        } else {
            let code = Int((status >> 8) & 0xff)
            // bubblewrap exits with 128 + N when the sandboxed program died of signal N.
            if viaBubblewrap && code > 128 && code < 128 + 65 {
                outcome.signal = code - 128
            } else {
                outcome.exitCode = code
            }
        }
        outcome.stdout = streams[0].bytes
        outcome.stderr = streams[1].bytes
        outcome.report = streams[2].bytes
        return outcome
    }

    /// The error for a sandbox that failed to start, with what it said on stderr.
    private func failure(_ what: String) -> SandboxError {
        kill()
        var said = Capture(fd: stderrFD, name: "stderr", limit: 4096)
        said.read()
        stderrFD = -1
        said.close()
        let text = String(decoding: said.bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return SandboxError(text.isEmpty ? what : "\(what): \(text)")
    }

    /// Reads a stream, keeping the first `limit` bytes; reading past them marks it overflowed.
    private struct Capture {
        var fd: Int32
        let name: String
        let limit: Int
        var bytes: [UInt8] = []
        var overflowed = false

        /// Reads what is available, closing at end of stream.
        mutating func read() {
            guard fd >= 0 else { return }
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while true {
                let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
                if n > 0 {
                    let room = max(0, limit - bytes.count)
                    if n > room { overflowed = true }
                    bytes.append(contentsOf: buffer[0..<min(n, room)])
                    continue
                }
                if n < 0 && errno == EINTR { continue }
                if n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK) { close() }
                return
            }
        }

        mutating func close() {
            if fd >= 0 { Glibc.close(fd) }
            fd = -1
        }
    }
}

/// Calls `body` with a NULL-terminated C array of the strings.
func withCStrings<R>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> R) -> R {
    let pointers = strings.map { strdup($0) }
    defer { pointers.forEach { free($0) } }
    return body(pointers + [nil])
}

private func withOptionalCString<R>(_ string: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
    guard let string else { return body(nil) }
    return string.withCString { body($0) }
}
