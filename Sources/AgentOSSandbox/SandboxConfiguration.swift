import Foundation

/// How jobs are isolated.
public enum SandboxIsolation: Sendable, Equatable {
    /// Each job in its own bubblewrap sandbox (the `bwrap` at this path).
    case bubblewrap(String)
    /// Plain child processes: limits, a work dir and a clean environment, nothing more.
    /// Only with `--insecure-no-sandbox`.
    case none
}

/// Limits every job gets, besides the wall time, output and memory its own limits set.
public struct SandboxLimits: Sendable, Equatable {
    /// Address space when a job does not give `memory_mb`.
    public var defaultMemoryMB = 1024
    /// CPU seconds per process; nil: the job's wall time plus one second, rounded up (so a
    /// single busy thread meets the wall limit first, and several meet this one).
    public var cpuSeconds: Int?

    /// The CPU limit of a job with `timeoutSeconds` of wall time.
    func cpuSeconds(timeoutSeconds: Double) -> Int {
        cpuSeconds ?? Int(timeoutSeconds.rounded(.up)) + 1
    }
    /// Processes (and threads) in one sandbox.
    public var processes = 128
    /// Largest file a job may write.
    public var fileSizeMB = 256
    /// Open descriptors per process.
    public var openFiles = 1024
    /// Size of the sandbox's `/dev/shm`.
    public var sharedMemoryMB = 64

    public init() {}
}

/// Where and how the engine builds per-requirements virtual environments.
public struct VenvSettings: Sendable, Equatable {
    /// Evict environments (least recently used first) while the cache is bigger than this.
    public var maxBytes: Int64 = 5 << 30
    /// Evict environments unused for longer than this.
    public var maxAge: Duration = .seconds(7 * 24 * 3600)
    /// Local wheel directories pip may install from (`--find-links`), bound read-only into the build.
    public var findLinks: [String] = []
    /// Install from `findLinks` only, never from an index.
    public var noIndex = false
    /// Seconds a build may take.
    public var buildTimeout: Duration = .seconds(600)

    public init() {}
}

/// Everything the sandboxed engine needs.
public struct SandboxConfiguration: Sendable {
    /// bubblewrap, or none at all.
    public var isolation: SandboxIsolation
    /// The interpreter jobs run with; under bubblewrap it must live under /usr (the only
    /// system tree a sandbox sees).
    public var python: String
    /// The engine's own directory: `jobs/` (work dirs), `venvs/` (the environment cache) and
    /// `runtime/`. It is never visible to a job.
    public var stateDirectory: String
    /// The host uid and gid sandboxes run as when the worker runs as root.
    public var sandboxUser: (uid: UInt32, gid: UInt32) = (uid: 65_533, gid: 65_533)
    /// Sandboxes kept started and waiting for a job (0: none: each is started for its job).
    public var warmPoolSize = 2
    /// Fork sandboxes from fork servers (a pre-started interpreter per environment) rather
    /// than starting bubblewrap and an interpreter for each; only with bubblewrap.
    public var forkServer = true
    public var limits = SandboxLimits()
    public var venvs = VenvSettings()

    /// A configuration isolating with `isolation`, keeping its state in `stateDirectory`.
    public init(isolation: SandboxIsolation, stateDirectory: String, python: String? = nil) throws {
        self.isolation = isolation
        self.stateDirectory = stateDirectory
        self.python = try python ?? SandboxConfiguration.findPython()
    }

    /// The system interpreter, preferring /usr/bin/python3 over wrappers earlier on PATH.
    public static func findPython() throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let candidates = ["/usr/bin/python3", "/usr/local/bin/python3"] + path.split(separator: ":").map { "\($0)/python3" }
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw SandboxError("no python3 found: install Python 3 (apt-get install python3-venv)")
        }
        return found
    }

    /// The bubblewrap on this machine, if any.
    public static func findBubblewrap() -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let candidates = ["/usr/bin/bwrap", "/usr/local/bin/bwrap"] + path.split(separator: ":").map { "\($0)/bwrap" }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// The default state directory of a root worker, which the sandbox user must be able to reach.
    public static let rootStateDirectory = "/var/cache/agentos/sandbox"

    /// The default state directory: for root, `/var/cache/agentos/sandbox`; else
    /// `$XDG_CACHE_HOME/agentos/sandbox`, or `~/.cache/agentos/sandbox`.
    public static var defaultStateDirectory: String {
        if geteuid() == 0 { return rootStateDirectory }
        let environment = ProcessInfo.processInfo.environment
        if let cache = environment["XDG_CACHE_HOME"], cache.hasPrefix("/") { return cache + "/agentos/sandbox" }
        return NSHomeDirectory() + "/.cache/agentos/sandbox"
    }
}
