import AgentOSSandbox
import ArgumentParser
import Foundation
import Logging

/// The sandbox options shared by `worker`, `desktop attach` and `sandbox`.
struct SandboxOptions: ParsableArguments {
    @Flag(help: "Run jobs WITHOUT isolation when bubblewrap is missing (AGENTOS_INSECURE_NO_SANDBOX=1). Unsafe: jobs see the host.")
    var insecureNoSandbox = false
    @Option(help: "The bubblewrap binary (AGENTOS_BWRAP). Default: bwrap in /usr/bin or on PATH")
    var bwrap: String?
    @Option(help: "Directory for work dirs and the virtualenv cache (AGENTOS_CACHE). Default /var/cache/agentos/sandbox for root, else ~/.cache/agentos/sandbox")
    var cache: String?
    @Option(help: "Sandboxes kept started and waiting for a job (AGENTOS_WARM_POOL). Default 2; 0 turns the pool off")
    var warmPool: Int?
    @Flag(help: "Start every sandbox cold (bubblewrap and a new interpreter) instead of forking it from a fork server (AGENTOS_NO_FORK_SERVER=1)")
    var noForkServer = false
    @Option(help: "Host uid (and gid) sandboxes run as when started by root (AGENTOS_SANDBOX_UID). Default 65533")
    var sandboxUid: Int?
    @Option(help: "Address-space limit of a job that gives no memory_mb, in MiB (AGENTOS_MEMORY_MB). Default 1024")
    var memoryMb: Int?
    @Option(help: "Processes a sandbox may have (AGENTOS_MAX_PROCESSES). Default 128")
    var maxProcesses: Int?
    @Option(help: "Largest virtualenv cache before least recently used ones are evicted, in MiB (AGENTOS_VENV_CACHE_MB). Default 5120")
    var venvCacheMb: Int?
    @Option(help: "Days an unused virtualenv is kept (AGENTOS_VENV_MAX_AGE_DAYS). Default 7")
    var venvMaxAgeDays: Int?
    @Option(help: "Comma-separated local wheel directories pip may install from (AGENTOS_PIP_FIND_LINKS)")
    var pipFindLinks: String?
    @Flag(help: "Install requirements from --pip-find-links only, never from PyPI (AGENTOS_PIP_NO_INDEX=1)")
    var pipNoIndex = false

    /// Whether jobs are to run without isolation (`--insecure-no-sandbox`).
    var isInsecure: Bool { insecureNoSandbox || Settings.environment("INSECURE_NO_SANDBOX") == "1" }

    /// The bubblewrap given (when it is executable), else the one found on this machine.
    func bubblewrapPath() -> String? {
        if let given = Settings.value(bwrap, env: "BWRAP") {
            return FileManager.default.isExecutableFile(atPath: given) ? given : nil
        }
        return SandboxConfiguration.findBubblewrap()
    }

    /// The engine these options describe, checked by running a job in it: a machine where
    /// sandboxes cannot start fails here with the reason, not on every job. A `oneShot` engine
    /// (`desktop run`: one job, then the process ends) keeps no warm pool and no fork server
    /// unless told to, since starting either costs more than the one cold start it would
    /// save, and is not checked first (its job's own failure says what is wrong).
    func makeEngine(logger: Logger, oneShot: Bool = false) async throws -> SandboxEngine {
        let isolation: SandboxIsolation
        if isInsecure {
            isolation = .none
            logger.critical("""
                !!! --insecure-no-sandbox: jobs run as plain processes of this user, WITHOUT isolation. \
                They can read this machine's files and environment and use its network. Never use this with code you do not trust. !!!
                """)
        } else if let given = Settings.value(bwrap, env: "BWRAP"), !FileManager.default.isExecutableFile(atPath: given) {
            throw CommandFailed(message: "no bubblewrap at \(given) (--bwrap / AGENTOS_BWRAP): give the path of an executable bwrap, or leave it out to use the installed one")
        } else if let bwrap = bubblewrapPath() {
            isolation = .bubblewrap(bwrap)
        } else {
            throw CommandFailed(message: """
                bubblewrap (bwrap) is not installed, and jobs never run without a sandbox: install it \
                (apt-get install bubblewrap), or pass --insecure-no-sandbox to run jobs unisolated (unsafe)
                """)
        }
        var configuration = try SandboxConfiguration(
            isolation: isolation, stateDirectory: Settings.value(cache, env: "CACHE", default: SandboxConfiguration.defaultStateDirectory))
        configuration.warmPoolSize = try Settings.int(warmPool, env: "WARM_POOL", default: oneShot ? 0 : configuration.warmPoolSize)
        guard (0...64).contains(configuration.warmPoolSize) else { throw ValidationError("--warm-pool must be 0-64") }
        configuration.forkServer = !(oneShot || noForkServer || Settings.environment("NO_FORK_SERVER") == "1")
        if let uid = try Settings.int(sandboxUid, env: "SANDBOX_UID") {
            guard (1...4_294_967_293).contains(uid) else { throw ValidationError("--sandbox-uid must be a uid other than 0") }
            configuration.sandboxUser = (UInt32(uid), UInt32(uid))
        }
        configuration.limits.defaultMemoryMB = try Settings.int(memoryMb, env: "MEMORY_MB", default: configuration.limits.defaultMemoryMB)
        guard (16...1_048_576).contains(configuration.limits.defaultMemoryMB) else { throw ValidationError("--memory-mb must be 16-1048576") }
        configuration.limits.processes = try Settings.int(maxProcesses, env: "MAX_PROCESSES", default: configuration.limits.processes)
        guard (4...100_000).contains(configuration.limits.processes) else { throw ValidationError("--max-processes must be 4-100000") }
        if let megabytes = try Settings.int(venvCacheMb, env: "VENV_CACHE_MB") {
            guard megabytes > 0 else { throw ValidationError("--venv-cache-mb must be positive") }
            configuration.venvs.maxBytes = Int64(megabytes) << 20
        }
        if let days = try Settings.int(venvMaxAgeDays, env: "VENV_MAX_AGE_DAYS") {
            guard days > 0 else { throw ValidationError("--venv-max-age-days must be positive") }
            configuration.venvs.maxAge = .seconds(days * 86_400)
        }
        configuration.venvs.findLinks = (Settings.value(pipFindLinks, env: "PIP_FIND_LINKS") ?? "").split(separator: ",").map {
            $0.trimmingCharacters(in: .whitespaces)
        }.filter { !$0.isEmpty }
        for links in configuration.venvs.findLinks where !links.hasPrefix("/") {
            throw ValidationError("--pip-find-links takes absolute directories, got \(links)")
        }
        configuration.venvs.noIndex = pipNoIndex || Settings.environment("PIP_NO_INDEX") == "1"
        let engine: SandboxEngine
        do {
            engine = try SandboxEngine(configuration: configuration, logger: logger)
            if !oneShot { try await engine.selfCheck() }
        } catch {
            throw CommandFailed(message: "\(error)")
        }
        logger.info("sandbox ready", metadata: [
            "isolation": "\(isInsecure ? "none" : "bubblewrap")", "cache": "\(configuration.stateDirectory)",
            "warm_pool": "\(configuration.warmPoolSize)", "fork_server": "\(engine.isForking)",
        ])
        return engine
    }
}
