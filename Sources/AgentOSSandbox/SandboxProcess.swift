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

/// The pipes between the engine and a sandbox's runner: stdout, stderr, control in (settings,
/// which the engine writes) and control out (ready and the outcome, which it reads). The
/// engine's ends are non-blocking; the runner's are ordinary blocking descriptors.
struct SandboxPipes {
    /// The engine's ends: stdout, stderr, control out (read) and control in (write).
    var stdout: Int32, stderr: Int32, controlOut: Int32, controlIn: Int32
    /// The runner's ends, in descriptor order 1–4: stdout, stderr, control in, control out.
    var child: [Int32]

    static func make() throws -> SandboxPipes {
        var pipes: [[Int32]] = []
        do {
            for _ in 0..<4 {
                var pair: [Int32] = [-1, -1]
                let rc = agentos_pipe(&pair)
                guard rc == 0 else { throw SandboxError.errno(-rc, "pipe") }
                pipes.append(pair)
            }
        } catch {
            for pair in pipes { pair.forEach { close($0) } }
            throw error
        }
        // agentos_pipe makes the parent's read end non-blocking: the child's read end of the
        // control-in pipe must block, so that one is made here with the roles swapped.
        let controlIn = pipes[2]
        var flags = fcntl(controlIn[0], F_GETFL)
        _ = fcntl(controlIn[0], F_SETFL, flags & ~O_NONBLOCK)
        flags = fcntl(controlIn[1], F_GETFL)
        _ = fcntl(controlIn[1], F_SETFL, flags | O_NONBLOCK)
        return SandboxPipes(
            stdout: pipes[0][0], stderr: pipes[1][0], controlOut: pipes[3][0], controlIn: controlIn[1],
            child: [pipes[0][1], pipes[1][1], controlIn[0], pipes[3][1]])
    }

    /// Closes the runner's ends (once it has them).
    mutating func closeChildEnds() {
        child.forEach { close($0) }
        child = []
    }

    /// Closes every end.
    mutating func closeAll() {
        closeChildEnds()
        for fd in [stdout, stderr, controlOut, controlIn] { close(fd) }
        (stdout, stderr, controlOut, controlIn) = (-1, -1, -1, -1)
    }
}

/// Forks and execs `plan` with `descriptors` as descriptors 0, 1, 2…; everything else is closed.
func spawnProcess(_ plan: SpawnPlan, descriptors: [Int32]) throws -> pid_t {
    let environment = plan.environment.map { "\($0.key)=\($0.value)" }.sorted()
    let limits = plan.limits.map { agentos_rlimit(resource: $0.resource, soft: $0.value, hard: $0.value) }
    let pid: pid_t = withCStrings(plan.arguments) { argv in
        withCStrings(environment) { envp in
            argv.withUnsafeBufferPointer { argv in
                envp.withUnsafeBufferPointer { envp in
                    descriptors.withUnsafeBufferPointer { fds in
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
    return pid
}

/// One started sandbox: a runner waiting for a job on its control pipe, its output pipes, and
/// what leads it. Each runs one job and is thrown away. Blocking: use it from dedicated
/// threads, never from a Swift concurrency thread.
///
/// A cold sandbox is led by the process the engine spawned (bubblewrap, or the interpreter
/// itself when unsandboxed): it is reaped with waitpid, and dies with the thread that started
/// it, which must outlive it. A forked sandbox (`ForkServer`) is led by its init, which is not
/// the engine's child: it sends a pidfd of itself on the status socket, reports the job's
/// wait status there, and ends (with everything in its namespaces) when killed through the
/// pidfd or when the engine closes the socket.
final class SandboxProcess: @unchecked Sendable {
    /// The leading process on the host (a forked sandbox's init, once it has said who it is).
    private(set) var pid: pid_t
    let directory: JobDirectory
    private let leader: Leader
    private var stdoutFD: Int32
    private var stderrFD: Int32
    private var controlIn: Int32
    private var controlOut: Int32
    private var reaped = false
    /// A forked sandbox's status socket and its init's pidfd.
    private var statusFD: Int32 = -1
    private var pidFD: Int32 = -1
    /// The job's wait status as a forked sandbox's init reported it.
    private var reportedStatus: Int32?
    /// What a forked sandbox's init said instead of starting.
    private var setupError: String?
    /// Kept while the sandbox lives (a fork server counts the sandboxes it has out).
    private let keepAlive: AnyObject?

    private enum Leader {
        /// Whether the exit status comes through bubblewrap (a signal shows as 128 + N).
        case spawned(viaBubblewrap: Bool)
        case forked
    }

    private init(pid: pid_t, directory: JobDirectory, leader: Leader, pipes: SandboxPipes, keepAlive: AnyObject? = nil) {
        self.pid = pid
        self.directory = directory
        self.leader = leader
        self.keepAlive = keepAlive
        (stdoutFD, stderrFD, controlIn, controlOut) = (pipes.stdout, pipes.stderr, pipes.controlIn, pipes.controlOut)
    }

    deinit {
        kill()
        for fd in [stdoutFD, stderrFD, controlIn, controlOut, statusFD, pidFD] where fd >= 0 { close(fd) }
        directory.remove()
    }

    /// Starts `plan` with stdin from /dev/null, stdout and stderr on pipes, and the control
    /// pipes on descriptors 3 (job settings in) and 4 (ready and outcome out).
    static func start(_ plan: SpawnPlan, directory: JobDirectory, viaBubblewrap: Bool) throws -> SandboxProcess {
        var pipes = try SandboxPipes.make()
        defer { pipes.closeChildEnds() }
        let devNull = open("/dev/null", O_RDONLY | O_CLOEXEC)
        guard devNull >= 0 else {
            pipes.closeAll()
            throw SandboxError.errno(errno, "open /dev/null")
        }
        defer { close(devNull) }
        let pid: pid_t
        do {
            pid = try spawnProcess(plan, descriptors: [devNull] + pipes.child + plan.extraDescriptors)
        } catch {
            pipes.closeAll()
            throw error
        }
        return SandboxProcess(pid: pid, directory: directory, leader: .spawned(viaBubblewrap: viaBubblewrap), pipes: pipes)
    }

    /// A sandbox a fork server is forking: `pipes` (the runner's ends already handed over) and
    /// the engine's end of its status socket, both owned by it from now on.
    static func forked(directory: JobDirectory, pipes: SandboxPipes, status: Int32, keepAlive: AnyObject) -> SandboxProcess {
        let process = SandboxProcess(pid: 0, directory: directory, leader: .forked, pipes: pipes, keepAlive: keepAlive)
        process.statusFD = status
        return process
    }

    /// Reads what a forked sandbox's init has said: its pidfd, the job's wait status, or why
    /// it could not start. Sets `reaped` once the init is gone.
    private func readStatus() {
        guard statusFD >= 0, !reaped else { return }
        // Whether the init is gone, asked before reading: what it said before it went is then
        // all in the socket. (Asked after, it could have said `exit` and gone in between.)
        var initGone = false
        if pidFD >= 0 {
            var fds = [pollfd(fd: pidFD, events: Int16(POLLIN), revents: 0)]
            initGone = poll(&fds, 1, 0) > 0
        }
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            var fd: Int32 = -1
            let n = buffer.withUnsafeMutableBytes { agentos_receive_with_fd(statusFD, $0.baseAddress, $0.count, &fd) }
            if n == -Int(EAGAIN) || n == -Int(EWOULDBLOCK) { break }
            if n <= 0 {
                // The init is gone (and with it the whole sandbox).
                reaped = true
                break
            }
            let message = String(decoding: buffer[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            if message == "pid", fd >= 0, pidFD < 0 {
                pidFD = fd
                pid = Self.pid(ofPidfd: fd)
                continue
            }
            if fd >= 0 { close(fd) }
            if message.hasPrefix("exit "), let status = Int32(message.dropFirst(5)) {
                reportedStatus = status
            } else if message.hasPrefix("error ") {
                setupError = String(message.dropFirst(6))
            }
        }
        if initGone { reaped = true }
    }

    /// The host pid a pidfd refers to (0 when it cannot be read).
    private static func pid(ofPidfd fd: Int32) -> pid_t {
        guard let info = try? String(contentsOfFile: "/proc/self/fdinfo/\(fd)", encoding: .utf8) else { return 0 }
        let line = info.split(separator: "\n").first { $0.hasPrefix("Pid:") }
        return line.flatMap { pid_t($0.dropFirst(4).trimmingCharacters(in: .whitespaces)) } ?? 0
    }

    /// Whether the leader has ended, with its wait status (non-blocking).
    private func endedStatus() -> Int32? {
        switch leader {
        case .spawned:
            guard !reaped else { return nil }
            var status: Int32 = 0
            guard waitpid(pid, &status, WNOHANG) == pid else { return nil }
            reaped = true
            return status
        case .forked:
            if reaped { return reportedStatus ?? SIGKILL }
            readStatus()
            // The init reports the job's status before it exits: that is the end.
            if let reportedStatus { return reportedStatus }
            return reaped ? SIGKILL : nil
        }
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
            if statusFD >= 0 { fds.append(pollfd(fd: statusFD, events: Int16(POLLIN), revents: 0)) }
            let waitMS = Int32(min(1000, max(1, remaining.components.seconds * 1000 + remaining.components.attoseconds / 1_000_000_000_000_000)))
            guard poll(&fds, nfds_t(fds.count), waitMS) > 0 else { continue }
            if fds.count > 1, fds[1].revents != 0 {
                readStatus()
                if let setupError { throw failure("the sandbox could not be set up: \(setupError)") }
                if reaped { throw failure("the sandbox exited before it was ready") }
            }
            guard fds[0].revents != 0 else { continue }
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
        if case .forked = leader {
            // The init sends its pidfd before the job's process exists.
            readStatus()
            guard pidFD >= 0 else { throw failure("the sandbox's init did not say who it is") }
        }
    }

    /// Whether it has exited (it is then useless).
    var hasExited: Bool {
        if reaped { return true }
        _ = endedStatus()
        return reaped || reportedStatus != nil
    }

    /// Kills the whole sandbox. With bubblewrap, the sandbox's own processes die with it; a
    /// forked sandbox's die with its init.
    func kill() {
        guard !reaped else { return }
        switch leader {
        case .spawned:
            killpg(pid, SIGKILL)
            Glibc.kill(pid, SIGKILL)
        case .forked:
            if pidFD >= 0 { _ = agentos_pidfd_signal(pidFD, SIGKILL) }
            // An init not yet known by its pidfd ends when its status socket does.
            if statusFD >= 0 { shutdown(statusFD, Int32(SHUT_RDWR)) }
        }
    }

    /// Waits (up to a few seconds for a forked sandbox) until a killed leader is gone.
    private func waitKilled() -> Int32 {
        switch leader {
        case .spawned:
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            reaped = true
            return status
        case .forked:
            if pidFD >= 0 {
                var fds = [pollfd(fd: pidFD, events: Int16(POLLIN), revents: 0)]
                _ = poll(&fds, 1, 5000)
            }
            reaped = true
            return SIGKILL
        }
    }

    /// Hands the runner its job settings and captures everything until it ends, a limit is
    /// hit, or `isCancelled` says so. `maxOutputBytes` caps stdout and stderr each; a stream
    /// going past it kills the sandbox. `onOutput` hears what stdout and stderr give as it is
    /// read (only the bytes kept), whether the sandbox was started cold or forked.
    func run(
        settings: [UInt8], timeout: Duration, maxOutputBytes: Int, maxReportBytes: Int, isCancelled: () -> Bool,
        onOutput: JobOutputHandler? = nil
    ) -> SandboxRun {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        var outcome = SandboxRun(stdout: [], stderr: [], report: [])
        var toSend = settings[...]
        var streams = [
            Capture(fd: stdoutFD, name: "stdout", limit: maxOutputBytes, onRead: onOutput.map { handler in { handler(.stdout, $0) } }),
            Capture(fd: stderrFD, name: "stderr", limit: maxOutputBytes, onRead: onOutput.map { handler in { handler(.stderr, $0) } }),
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
            if !exited, let ended = endedStatus() {
                status = ended
                exited = true
                // Output still in the pipes stays readable; a writer that escaped must not
                // hold the job open, so draining gets a short grace only.
                drainDeadline = clock.now.advanced(by: .milliseconds(200))
                if case .forked = leader {
                    // The job's process has ended, so all it wrote is in the pipes; what is
                    // left in the sandbox dies with its init. Read what is there and finish
                    // now, rather than wait for the namespaces to be torn down (milliseconds).
                    for index in streams.indices { streams[index].read() }
                    break
                }
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
            // A forked sandbox's init says on its status socket when the job's process ended.
            if statusFD >= 0 && !exited && !reaped { fds.append(pollfd(fd: statusFD, events: Int16(POLLIN), revents: 0)) }
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
            status = waitKilled()
        }
        let termSignal = status & 0x7f
        if termSignal != 0 {
            outcome.signal = Int(termSignal)
        } else {
            let code = Int((status >> 8) & 0xff)
            // bubblewrap exits with 128 + N when the sandboxed program died of signal N.
            if case .spawned(viaBubblewrap: true) = leader, code > 128 && code < 128 + 65 {
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
        /// Hears each read's kept bytes.
        var onRead: ((ArraySlice<UInt8>) -> Void)? = nil
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
                    let kept = buffer[0..<min(n, room)]
                    bytes.append(contentsOf: kept)
                    if let onRead, !kept.isEmpty { onRead(kept) }
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
