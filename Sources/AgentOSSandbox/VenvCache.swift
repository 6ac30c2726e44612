import AgentOSAuth
import AgentOSWire
import Foundation
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A failed environment build: `dependency_install_failed` with pip's last lines.
struct VenvBuildFailed: Error, CustomStringConvertible {
    let description: String
}

/// An environment in use. It cannot be evicted until the lease is released (deinit).
final class VenvLease: Sendable {
    /// The environment's directory on the host.
    let path: String
    private let lockFD: Int32

    init(path: String, lockFD: Int32) {
        self.path = path
        self.lockFD = lockFD
    }

    deinit { close(lockFD) }
}

/// Virtual environments keyed by the hash of their requirements (and the interpreter), under
/// `<state>/venvs/<key>`. An environment is built once, in a sandbox of its own with the
/// network (pip installs wheels only: no package's build code runs), even when many jobs
/// (or worker processes sharing the directory) ask for it at once: builders take an
/// exclusive `flock` on `<key>.lock`, users a shared one. Environments unused for longer than
/// the maximum age, then the least recently used while the cache is over its size, are evicted
/// (never one in use).
final class VenvCache: Sendable {
    static let readyMarker = ".agentos-ready"

    let root: String
    private let launcher: SandboxLauncher
    private let settings: VenvSettings
    private let logger: Logger
    private let completedBuilds = Atomic<Int>(0)
    /// The interpreter and what it links to (`python3.11`), read once: part of every key, so
    /// a new interpreter version gets new environments.
    private let interpreter: String

    /// Environments built by this process (a test can see a concurrent first use built once).
    var builds: Int { completedBuilds.load(ordering: .relaxed) }

    init(launcher: SandboxLauncher, settings: VenvSettings, logger: Logger) throws {
        self.launcher = launcher
        self.settings = settings
        self.logger = logger
        let python = launcher.configuration.python
        interpreter = python + "\n" + ((try? FileManager.default.destinationOfSymbolicLink(atPath: python)) ?? python)
        root = launcher.configuration.stateDirectory + "/venvs"
        // The sandbox user passes through (bubblewrap binds an environment by its path).
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o711])
        chmod(root, 0o711)
    }

    /// The cache key of `requirements` for this engine's interpreter.
    func key(_ requirements: PythonRequirements) -> String {
        let text = ([interpreter] + requirements.lines).joined(separator: "\n")
        return String(ContentHash.sha256Hex(Data(text.utf8)).prefix(32))
    }

    /// The environment for `requirements`, built first if needed. Blocking: call it from a
    /// dedicated thread, which outlives the build. A build is not cancelled with the job that
    /// asked (others may wait for it); it has its own time limit.
    func lease(_ requirements: PythonRequirements) throws -> VenvLease {
        let key = key(requirements)
        let path = root + "/" + key
        let lockFD = open(root + "/" + key + ".lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard lockFD >= 0 else { throw SandboxError.errno(errno, "opening the environment lock") }
        var leased = false
        defer { if !leased { close(lockFD) } }
        try lock(lockFD, LOCK_SH)
        if isReady(path) {
            touch(path)
            leased = true
            return VenvLease(path: path, lockFD: lockFD)
        }
        // Build under the exclusive lock; whoever held it first may have built it meanwhile.
        try lock(lockFD, LOCK_EX)
        if !isReady(path) {
            try build(requirements, at: path)
            evict(keeping: key)
        }
        try lock(lockFD, LOCK_SH)
        touch(path)
        leased = true
        return VenvLease(path: path, lockFD: lockFD)
    }

    private func lock(_ fd: Int32, _ operation: Int32) throws {
        while flock(fd, operation) != 0 {
            guard errno == EINTR else { throw SandboxError.errno(errno, "locking the environment") }
        }
    }

    private func isReady(_ path: String) -> Bool {
        FileManager.default.fileExists(atPath: path + "/" + Self.readyMarker)
    }

    /// Marks the environment used now (its marker's mtime is its last use).
    private func touch(_ path: String) {
        utimes(path + "/" + Self.readyMarker, nil)
    }

    /// The build, in a sandbox with the network (or the find-links dirs only) and the
    /// environment's directory writable at `/venv`.
    private func build(_ requirements: PythonRequirements, at path: String) throws {
        JobDirectory.removeTree(path)
        guard mkdir(path, 0o755) == 0 else { throw SandboxError.errno(errno, "creating \(path)") }
        if let owner = launcher.hostUser, chown(path, owner.uid, owner.gid) != 0 {
            throw SandboxError.errno(errno, "handing \(path) to uid \(owner.uid)")
        }
        let started = ContinuousClock.now
        logger.info("building a virtual environment", metadata: ["key": "\(path.split(separator: "/").last ?? "")", "requirements": "\(requirements.lines.joined(separator: " "))"])
        var pipArguments = ["--disable-pip-version-check", "--no-input", "--no-cache-dir", "--progress-bar", "off", "--only-binary", ":all:"]
        for links in settings.findLinks { pipArguments += ["--find-links", links] }
        if settings.noIndex { pipArguments.append("--no-index") }
        let venvInside = launcher.isSandboxed ? "/venv" : path
        let command = [launcher.configuration.python, "-I", "-B", "-X", "utf8", "-c", Self.buildScript, venvInside]
            + pipArguments + ["--"] + requirements.lines
        let run: SandboxRun
        do {
            let process = try launcher.start(
                command: command, profile: SandboxProfile(venv: path, network: !settings.noIndex), writableVenv: true,
                extraReadOnly: settings.findLinks)
            run = process.run(settings: [], timeout: settings.buildTimeout, maxOutputBytes: 1 << 20, maxReportBytes: 0, isCancelled: { false })
            process.directory.remove()
        } catch {
            JobDirectory.removeTree(path)
            throw error
        }
        guard run.exitCode == 0, !run.timedOut else {
            JobDirectory.removeTree(path)
            let output = String(decoding: run.stdout + run.stderr, as: UTF8.self)
            let tail = output.split(whereSeparator: \.isNewline).suffix(15).joined(separator: "\n")
            let why = run.timedOut ? "the build took longer than \(settings.buildTimeout)" : "pip failed"
            throw VenvBuildFailed(description: "\(why) installing \(requirements.lines.joined(separator: " "))\n\(tail)")
        }
        // Built by the sandbox user; used read-only. Handed back to the worker, so not even
        // that uid on the host can change it after.
        if launcher.hostUser != nil { Self.chownTree(path, to: (getuid(), getgid())) }
        let size = Self.diskUsage(path)
        try Data("\(size)\n".utf8).write(to: URL(fileURLWithPath: path + "/" + Self.readyMarker))
        completedBuilds.add(1, ordering: .relaxed)
        logger.info("built a virtual environment", metadata: [
            "key": "\(path.split(separator: "/").last ?? "")", "bytes": "\(size)", "ms": "\(SandboxEngine.milliseconds(ContinuousClock.now - started))",
        ])
    }

    /// Removes environments unused for longer than the maximum age, then the least recently
    /// used while the total is over the maximum size; never `keeping` nor one in use.
    func evict(keeping: String? = nil) {
        struct Entry { let key: String; let lastUsed: Date; let bytes: Int64 }
        let fileManager = FileManager.default
        var entries: [Entry] = []
        for name in (try? fileManager.contentsOfDirectory(atPath: root)) ?? [] where !name.hasSuffix(".lock") {
            let marker = root + "/" + name + "/" + Self.readyMarker
            guard let attributes = try? fileManager.attributesOfItem(atPath: marker),
                  let used = attributes[.modificationDate] as? Date else { continue }
            let bytes = (try? String(contentsOfFile: marker, encoding: .utf8)).flatMap { Int64($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? 0
            entries.append(Entry(key: name, lastUsed: used, bytes: bytes))
        }
        var total = entries.reduce(0) { $0 + $1.bytes }
        let maxAge = TimeInterval(settings.maxAge.components.seconds)
        for entry in entries.sorted(by: { $0.lastUsed < $1.lastUsed }) where entry.key != keeping {
            let stale = Date().timeIntervalSince(entry.lastUsed) > maxAge
            guard stale || total > settings.maxBytes else { continue }
            let lockFD = open(root + "/" + entry.key + ".lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
            guard lockFD >= 0 else { continue }
            defer { close(lockFD) }
            // In use (or being built): leave it.
            guard flock(lockFD, LOCK_EX | LOCK_NB) == 0 else { continue }
            JobDirectory.removeTree(root + "/" + entry.key)
            total -= entry.bytes
            logger.info("evicted a virtual environment", metadata: ["key": "\(entry.key)", "stale": "\(stale)"])
        }
    }

    /// Gives `path` and everything under it to `owner`, never following links.
    static func chownTree(_ path: String, to owner: (uid: uid_t, gid: gid_t)) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        lchown(path, owner.uid, owner.gid)
        if (info.st_mode & S_IFMT) == S_IFDIR {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] {
                chownTree(path + "/" + name, to: owner)
            }
        }
    }

    /// Bytes under `path` (allocated blocks), not following links.
    static func diskUsage(_ path: String) -> Int64 {
        var info = stat()
        guard lstat(path, &info) == 0 else { return 0 }
        var total = Int64(info.st_blocks) * 512
        if (info.st_mode & S_IFMT) == S_IFDIR {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] {
                total += diskUsage(path + "/" + name)
            }
        }
        return total
    }

    /// Creates the environment at argv[1] and installs the requirements after `--` with pip,
    /// passing the options between.
    static let buildScript = #"""
import subprocess, sys, venv
target = sys.argv[1]
rest = sys.argv[2:]
split = rest.index("--")
options, requirements = rest[:split], rest[split + 1:]
venv.EnvBuilder(with_pip=True, symlinks=True, clear=False).create(target)
command = [target + "/bin/python3", "-m", "pip", "install"] + options + requirements
print("+ pip install " + " ".join(options + requirements), flush=True)
sys.exit(subprocess.call(command))
"""#
}
