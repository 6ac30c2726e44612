import CSpawn
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One fork server: a sandboxed interpreter (`ForkServerScript`), started once, that clones a
/// fresh sandbox per request, for a fifth to a quarter of the CPU time of starting
/// bubblewrap and an interpreter (`agentos-bench engine`). It never runs a job itself, and no job data passes
/// through it: the engine
/// writes the job into the sandbox's directory and its settings into the sandbox's control
/// pipe, as for a cold sandbox.
///
/// Sandboxes it forks live in its bubblewrap PID namespace: if it dies, they die. A server is
/// relaunched when a request finds it gone, and stopped when it is released (each sandbox it
/// has out holds it) or when the engine closes.
///
/// A server holds no lease on its virtual environment, so an idle one never keeps the cache
/// from evicting it; each job leases the environment it runs with, and a server whose
/// environment was evicted (and perhaps built again) since it started is replaced
/// (`ForkServers.start` compares the directory's identity).
final class ForkServer: @unchecked Sendable {
    /// The virtual environment its interpreter comes from (nil: the system interpreter).
    let venv: String?
    /// The environment directory's device and inode when the server was made.
    let venvIdentity: DirectoryIdentity?
    private let launcher: SandboxLauncher
    private let lock = NSLock()
    private var socket: Int32 = -1
    private var process: pid_t = 0
    private var stopped = false
    private let out = Atomic<Int>(0)
    private let lastUse = Mutex(ContinuousClock.now)

    /// Sandboxes it has forked that are not thrown away yet.
    var sandboxesOut: Int { out.load(ordering: .relaxed) }
    /// When it last forked a sandbox.
    var lastUsed: ContinuousClock.Instant { lastUse.withLock { $0 } }
    /// Its bubblewrap process on the host (0 when it is not running).
    var processID: pid_t { lock.withLock { process } }

    init(venv: String?, launcher: SandboxLauncher) {
        self.venv = venv
        venvIdentity = venv.flatMap(DirectoryIdentity.init(path:))
        self.launcher = launcher
    }

    deinit { stop() }

    /// Forks a sandbox for a job with (or without) the network. It is not ready yet: call
    /// `waitReady` on it.
    func start(network: Bool) throws -> SandboxProcess {
        lastUse.withLock { $0 = .now }
        let directory = try JobDirectory.create(under: launcher.jobsRoot, owner: launcher.hostUser)
        var pipes: SandboxPipes
        var status: [Int32] = [-1, -1]
        do {
            pipes = try SandboxPipes.make()
            let rc = agentos_socketpair(Int32(SOCK_SEQPACKET.rawValue), &status)
            guard rc == 0 else {
                pipes.closeAll()
                throw SandboxError.errno(-rc, "socketpair")
            }
        } catch {
            directory.remove()
            throw error
        }
        let name = (directory.path as NSString).lastPathComponent
        let request = Array(#"{"dir":"\#(name)","network":\#(network)}"#.utf8)
        do {
            try send(request, descriptors: pipes.child + [status[1]])
        } catch {
            pipes.closeAll()
            close(status[0])
            close(status[1])
            directory.remove()
            throw error
        }
        pipes.closeChildEnds()
        close(status[1])
        out.add(1, ordering: .relaxed)
        return SandboxProcess.forked(directory: directory, pipes: pipes, status: status[0], keepAlive: Out(self))
    }

    /// Kills the server (and any sandbox it still has out); it starts no more.
    func stop() {
        lock.lock()
        stopped = true
        shutDown()
        lock.unlock()
    }

    /// Sends one request, launching the server first when it is not running (or has died).
    private func send(_ request: [UInt8], descriptors: [Int32]) throws {
        lock.lock()
        defer { lock.unlock() }
        guard !stopped else { throw SandboxError("the fork server is stopped") }
        // A server that has died since its last request is relaunched at once.
        var status: Int32 = 0
        if process > 0, waitpid(process, &status, WNOHANG) == process {
            process = 0
            shutDown()
        }
        for attempt in 0..<2 {
            if socket < 0 { try launch() }
            let rc = request.withUnsafeBytes { bytes in
                descriptors.withUnsafeBufferPointer { agentos_send_with_fds(socket, bytes.baseAddress, bytes.count, $0.baseAddress, Int32($0.count)) }
            }
            if rc == 0 { return }
            // A server that died (or was killed) is relaunched once.
            shutDown()
            if attempt == 1 || ![EPIPE, ECONNRESET, ENOTCONN].contains(-rc) {
                throw SandboxError.errno(-rc, "handing a sandbox to the fork server")
            }
        }
    }

    /// Starts the server and waits for it to say it is ready. Called with the lock held.
    private func launch() throws {
        var pair: [Int32] = [-1, -1]
        var rc = agentos_socketpair(Int32(SOCK_SEQPACKET.rawValue), &pair)
        guard rc == 0 else { throw SandboxError.errno(-rc, "socketpair") }
        var errors: [Int32] = [-1, -1]
        rc = agentos_pipe(&errors)
        guard rc == 0 else {
            pair.forEach { close($0) }
            throw SandboxError.errno(-rc, "pipe")
        }
        defer {
            close(errors[0])
            close(errors[1])
            close(pair[1])
        }
        let pid: pid_t
        do {
            // The server must outlive the thread that asks (bubblewrap dies with it).
            pid = try PermanentThread.shared.run { [launcher, venv] in
                try launcher.startForkServer(venv: venv, socket: pair[1], stderr: errors[1])
            }
        } catch {
            close(pair[0])
            throw error
        }
        close(errors[1])
        errors[1] = -1
        socket = pair[0]
        process = pid
        var fds = [pollfd(fd: socket, events: Int16(POLLIN), revents: 0)]
        var said = [UInt8](repeating: 0, count: 16)
        var n = -1
        if poll(&fds, 1, 30_000) > 0 {
            n = said.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
        }
        guard n == 5, said.prefix(5) == Array("ready".utf8)[...] else {
            var text = [UInt8](repeating: 0, count: 4096)
            let got = max(0, text.withUnsafeMutableBytes { read(errors[0], $0.baseAddress, $0.count) })
            shutDown()
            let detail = String(decoding: text[0..<got], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            throw SandboxError("the fork server did not start" + (detail.isEmpty ? "" : ": \(detail)"))
        }
    }

    /// Closes the socket (the server exits at end of stream) and kills and reaps the server.
    /// Called with the lock held.
    private func shutDown() {
        if socket >= 0 { close(socket) }
        socket = -1
        guard process > 0 else { return }
        Glibc.kill(process, SIGKILL)
        var status: Int32 = 0
        while waitpid(process, &status, 0) < 0 && errno == EINTR {}
        process = 0
    }

    /// Counts one sandbox out until it is thrown away.
    private final class Out {
        let server: ForkServer
        init(_ server: ForkServer) { self.server = server }
        deinit { server.out.subtract(1, ordering: .relaxed) }
    }
}

/// The fork servers of one engine, one per interpreter (the system's, and each virtual
/// environment's while jobs use it). A virtual environment's server is stopped when none of
/// its sandboxes is out and it has not been used for `idleLimit`, or when more than
/// `maxServers` exist (least recently used first); both are checked at every start.
final class ForkServers: @unchecked Sendable {
    static let idleLimit: Duration = .seconds(300)
    static let maxServers = 8

    private let launcher: SandboxLauncher
    private let lock = NSLock()
    private var servers: [String: ForkServer] = [:]
    private var stopped = false

    init(launcher: SandboxLauncher) {
        self.launcher = launcher
    }

    /// Forks a sandbox for `profile` from its interpreter's server (made when missing, or
    /// remade when its environment is no longer the one at the profile's path). The caller
    /// holds a lease on the profile's environment.
    func start(_ profile: SandboxProfile) throws -> SandboxProcess {
        var retired: [ForkServer] = []
        let server: ForkServer = try lock.withLock {
            guard !stopped else { throw SandboxError("the fork servers are stopped") }
            let key = profile.venv ?? ""
            retired = evict()
            if let existing = servers[key] {
                if existing.venvIdentity == profile.venv.flatMap(DirectoryIdentity.init(path:)) { return existing }
                retired.append(existing)
            }
            let made = ForkServer(venv: profile.venv, launcher: launcher)
            servers[key] = made
            return made
        }
        // A retired server stops once nothing holds it (its last sandbox thrown away, or a
        // request of its own answered): here, outside the lock, when it is idle.
        retired.removeAll()
        return try server.start(network: profile.network)
    }

    /// Whether `stop()` was called: the engine is closing.
    var isStopped: Bool { lock.withLock { stopped } }

    /// The bubblewrap processes of the servers running.
    var processIDs: [pid_t] { lock.withLock { Array(servers.values) }.map(\.processID).filter { $0 > 0 } }

    /// Releases every server: each stops once its last sandbox is thrown away, and the next
    /// start launches a new one.
    func releaseAll() {
        let all: [ForkServer] = lock.withLock {
            defer { servers.removeAll() }
            return Array(servers.values)
        }
        withExtendedLifetime(all) {}
    }

    /// Stops every server, with the sandboxes they have out; no more start.
    func stop() {
        let all: [ForkServer] = lock.withLock {
            stopped = true
            defer { servers.removeAll() }
            return Array(servers.values)
        }
        all.forEach { $0.stop() }
    }

    /// Takes out the idle environment servers to release: those unused for `idleLimit`, and the
    /// least recently used while there are more than `maxServers`. Called with the lock held.
    private func evict() -> [ForkServer] {
        let now = ContinuousClock.now
        let idle = servers.filter { $0.key != "" && $0.value.sandboxesOut == 0 }.sorted { $0.value.lastUsed < $1.value.lastUsed }
        var excess = servers.count - Self.maxServers
        var evicted: [ForkServer] = []
        for (key, server) in idle where excess > 0 || now - server.lastUsed > Self.idleLimit {
            servers[key] = nil
            evicted.append(server)
            excess -= 1
        }
        return evicted
    }
}

/// A directory's device and inode: which directory a path named when it was read.
struct DirectoryIdentity: Equatable, Sendable {
    let device: UInt64
    let inode: UInt64

    init?(path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
    }
}

/// A thread that lives as long as the process, for starting processes that must outlive the
/// thread that asks for them: a child started with PR_SET_PDEATHSIG dies with the thread that
/// forked it.
final class PermanentThread: @unchecked Sendable {
    static let shared = PermanentThread()

    private let condition = NSCondition()
    private var work: [() -> Void] = []

    private init() {
        let thread = Thread { [self] in serve() }
        thread.name = "agentos-spawner"
        thread.start()
    }

    /// Runs `body` on the thread and returns what it returned.
    func run<T>(_ body: @escaping () throws -> T) throws -> T {
        let done = NSCondition()
        var result: Result<T, any Error>?
        condition.lock()
        work.append {
            let value = Result { try body() }
            done.lock()
            result = value
            done.signal()
            done.unlock()
        }
        condition.signal()
        condition.unlock()
        done.lock()
        while result == nil { done.wait() }
        done.unlock()
        return try result!.get()
    }

    private func serve() {
        while true {
            condition.lock()
            while work.isEmpty { condition.wait() }
            let next = work.removeFirst()
            condition.unlock()
            next()
        }
    }
}
