import AgentOSWire
import Foundation
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Runs each job in a fresh sandbox (SPEC §5): bubblewrap namespaces, a private work dir and
/// `/tmp` removed afterwards, a clean environment, resource limits, a virtual environment per
/// requirements set, and a warm pool of started sandboxes for jobs that need neither an
/// environment nor the network. Cloud workers, desktops and `agentos sandbox` all run jobs
/// through it.
public final class SandboxEngine: JobEngine, Sendable {
    /// Largest `main` return value, as JSON, that a job may produce.
    public static let maxResultBytes = 4 << 20
    /// How long a sandbox may take to start and load its interpreter.
    static let startTimeout: Duration = .seconds(30)

    public let configuration: SandboxConfiguration
    let launcher: SandboxLauncher
    let starter: SandboxStarter
    let venvs: VenvCache
    let pool: WarmPool?
    private let logger: Logger

    /// An engine as `configuration` says; starts filling its warm pool at once.
    public init(configuration: SandboxConfiguration, logger: Logger = Logger(label: "agentos.sandbox")) throws {
        // A sandbox that dies while we write its settings must not take the worker with it.
        signal(SIGPIPE, SIG_IGN)
        if case .bubblewrap = configuration.isolation, !configuration.python.hasPrefix("/usr/") {
            throw SandboxError("the sandbox runs jobs with a system Python under /usr, not \(configuration.python): install python3 (apt-get install python3-venv)")
        }
        self.configuration = configuration
        self.logger = logger
        launcher = try SandboxLauncher(configuration: configuration)
        let forking = configuration.forkServer && launcher.isSandboxed
        starter = SandboxStarter(launcher: launcher, forkServers: forking ? ForkServers(launcher: launcher) : nil, logger: logger)
        venvs = try VenvCache(launcher: launcher, settings: configuration.venvs, logger: logger)
        venvs.evict()
        if configuration.warmPoolSize > 0 {
            pool = WarmPool(size: configuration.warmPoolSize, logger: logger) { [starter] in
                try starter.start(.plain, timeout: SandboxEngine.startTimeout)
            }
        } else {
            pool = nil
        }
    }

    /// Environments this engine has built.
    public var venvBuilds: Int { venvs.builds }
    /// Warm sandboxes waiting now.
    public var warmSandboxes: Int { pool?.idle ?? 0 }
    /// Whether jobs are isolated.
    public var isSandboxed: Bool { launcher.isSandboxed }
    /// Whether sandboxes are forked by fork servers (else each starts cold).
    public var isForking: Bool { starter.isForking }
    /// Sandboxes started so far by forking, and cold.
    public var forkedStarts: Int { starter.forkedStarts }
    public var coldStarts: Int { starter.coldStarts }

    /// Kills the warm sandboxes; jobs still running are stopped by cancelling them.
    public func shutdown() {
        pool?.stop()
    }

    /// Kills the warm sandboxes and the fork servers (with any job still running) and removes
    /// this process's work and runtime directories: for when no job runs any more (the
    /// process is about to exit).
    public func close() {
        pool?.stop()
        starter.stop()
        launcher.removeOwnDirectories()
    }

    /// Runs a tiny job in a new sandbox, so a worker that cannot start sandboxes here says
    /// why at start-up rather than failing every job.
    public func selfCheck() async throws {
        let probe = JobAssignment(
            jobID: "self-check", attempt: 1, code: "def main():\n    return 42", inputs: [:], limits: JobLimits(timeoutSeconds: 30))
        let outcome = await run(probe, context: JobRunContext(), warm: false)
        guard outcome.status == .succeeded, outcome.result == 42 else {
            let detail = [outcome.error, outcome.stderr.isEmpty ? nil : outcome.stderr].compactMap { $0 }.joined(separator: ": ")
            let hint = launcher.isSandboxed && ["not permitted", "No space left", "namespace"].contains(where: detail.contains)
                ? " (sandboxes need user namespaces: sysctl user.max_user_namespaces must be above 0, kernel.unprivileged_userns_clone 1 where it exists, and on Ubuntu kernel.apparmor_restrict_unprivileged_userns 0)"
                : ""
            throw SandboxError("cannot run a job in a sandbox here: \(detail)\(hint)")
        }
    }

    /// Where this engine keeps its work dirs and virtualenvs.
    public var stateDirectory: String { launcher.configuration.stateDirectory }

    /// Checks that this engine's sandboxes can use `folders` (a root engine runs them as its
    /// sandbox user, which a private home keeps out); throws what stands in the way and what to do.
    public func checkAccess(to folders: [SharedFolder]) throws {
        guard launcher.isSandboxed else { return }
        for folder in folders {
            let given = "--dir \(folder.path)\(folder.writable ? ":rw" : "")"
            if let user = launcher.hostUser {
                // Another uid than ours: judged by the mode bits, as the kernel will for it.
                guard let problem = folder.accessProblem(uid: user.uid, gid: user.gid) else { continue }
                throw SandboxError("""
                    \(given): \(problem); jobs of an engine run as root run as uid \(user.uid) (--sandbox-uid): run the desktop as \
                    your own user, or open the folder to that uid (chmod o+rx, o+rwx for :rw, and o+x on the directories above)
                    """)
            }
            // Our own uid: the kernel's answer, groups and ACLs included.
            let mode = R_OK | X_OK | (folder.writable ? W_OK : 0)
            guard faccessat(AT_FDCWD, folder.path, mode, AT_EACCESS) != 0 else { continue }
            throw SandboxError("\(given): \(String(cString: strerror(errno))); make it \(folder.writable ? "readable and writable" : "readable") by you")
        }
    }

    public func run(_ job: JobAssignment, inputFiles: String?) async -> JobOutcome {
        await run(job, context: JobRunContext(inputFiles: inputFiles), warm: true)
    }

    /// Runs `job` with `context`; a job with folders always starts cold.
    public func run(_ job: JobAssignment, context: JobRunContext) async -> JobOutcome {
        await run(job, context: context, warm: true)
    }

    private func run(_ job: JobAssignment, context: JobRunContext, warm: Bool) async -> JobOutcome {
        let cancelled = CancelFlag()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                // Blocking reads and waitpid belong on their own thread, which also outlives
                // the sandbox it starts (a sandbox dies with the thread that started it).
                let thread = Thread {
                    var used: SandboxProcess?
                    let outcome = self.runBlocking(job, context: context, warm: warm, cancelled: cancelled, used: &used)
                    continuation.resume(returning: outcome)
                    // Tidying up is not the caller's wait.
                    if let used {
                        used.kill()
                        used.directory.remove()
                    }
                }
                thread.name = "agentos-job"
                thread.start()
            }
        } onCancel: {
            cancelled.set()
        }
    }

    /// Runs `job`; the sandbox it used, to be killed and removed, is left in `used`.
    private func runBlocking(
        _ job: JobAssignment, context: JobRunContext, warm: Bool, cancelled: CancelFlag, used: inout SandboxProcess?
    ) -> JobOutcome {
        var started = ContinuousClock.now
        func failure(_ error: String, _ status: JobStatus = .failed) -> JobOutcome {
            JobOutcome(jobID: job.jobID, attempt: job.attempt, status: status, error: error,
                       durationMS: Self.milliseconds(ContinuousClock.now - started))
        }
        if let name = context.environment.keys.first(where: { !JobRunContext.isValidVariableName($0) }) {
            return failure("engine_error: \(name) cannot be set for a job (only AGENTOS_ and capitals, digits or _)")
        }
        let requirements: PythonRequirements
        do {
            requirements = try PythonRequirements(parsing: job.requirements)
        } catch {
            return failure("invalid_requirements: \(error)")
        }
        var lease: VenvLease?
        if !requirements.isEmpty {
            // The environment is built (or waited for) on a thread of its own: other jobs may
            // need it, so a cancelled job stops waiting but the build goes on and is cached.
            let pending = PendingLease()
            let venvs = self.venvs
            Thread { pending.finish(Result { try venvs.lease(requirements) }) }.start()
            while true {
                if let result = pending.wait(timeout: 0.1) {
                    do {
                        lease = try result.get()
                    } catch let error as VenvBuildFailed {
                        return failure("dependency_install_failed: \(error)")
                    } catch {
                        return failure("engine_error: \(error)")
                    }
                    break
                }
                if cancelled.isSet { return failure("cancelled", .cancelled) }
            }
            started = ContinuousClock.now
        }
        let profile = SandboxProfile(venv: lease?.path, network: job.limits.network, folders: context.folders)
        let sandbox: SandboxProcess
        if warm, profile == .plain, let ready = pool?.take() {
            sandbox = ready
        } else {
            do {
                sandbox = try starter.start(profile, timeout: Self.startTimeout)
            } catch {
                return failure("engine_error: \(error)")
            }
        }
        used = sandbox
        do {
            try sandbox.directory.writeWorkFile(RunnerScript.codeFile, job.code.utf8)
            try sandbox.directory.writeWorkFile(RunnerScript.inputsFile, JSONValue.object(job.inputs).encoded())
            if let inputFiles = context.inputFiles { try Self.placeReadOnly(inputFiles, at: sandbox.directory.work + "/files") }
        } catch {
            return failure("engine_error: could not prepare the work directory: \(error)")
        }
        let run = sandbox.run(
            settings: settings(for: job, environment: context.environment), timeout: .milliseconds(Int64(job.limits.timeoutSeconds * 1000)),
            maxOutputBytes: job.limits.maxOutputBytes, maxReportBytes: Self.maxResultBytes + 65_536,
            isCancelled: { cancelled.isSet }, onOutput: context.onOutput)
        return outcome(of: run, job: job, duration: ContinuousClock.now - started)
    }

    /// What the runner is told: the entrypoint, the limits it sets on itself before the job's
    /// code runs, and the run's own environment variables.
    private func settings(for job: JobAssignment, environment: [String: String]) -> [UInt8] {
        let limits = configuration.limits
        let memoryMB = job.limits.memoryMB ?? limits.defaultMemoryMB
        var fields: [String: JSONValue] = [
            "memory_bytes": .number(Double(memoryMB << 20)),
            "cpu_seconds": .number(Double(limits.cpuSeconds(timeoutSeconds: job.limits.timeoutSeconds))),
            "file_bytes": .number(Double(limits.fileSizeMB << 20)),
            "open_files": .number(Double(limits.openFiles)),
        ]
        // Unsandboxed, the process count is the whole user's: only a sandbox has its own.
        if launcher.isSandboxed { fields["processes"] = .number(Double(limits.processes)) }
        var settings: [String: JSONValue] = ["entrypoint": .string(job.entrypoint), "limits": .object(fields)]
        if !environment.isEmpty { settings["environment"] = .object(environment.mapValues { .string($0) }) }
        return Array(JSONValue.object(settings).encoded())
    }

    private func outcome(of run: SandboxRun, job: JobAssignment, duration: Duration) -> JobOutcome {
        var outcome = JobOutcome(
            jobID: job.jobID, attempt: job.attempt, status: .failed,
            stdout: String(decoding: run.stdout, as: UTF8.self), stderr: String(decoding: run.stderr, as: UTF8.self),
            exitCode: run.exitCode, outputTruncated: run.overflow == "stdout" || run.overflow == "stderr",
            durationMS: Self.milliseconds(duration))
        let report = try? JSONValue.parse(Data(run.report))
        if run.timedOut {
            outcome.status = .timedOut
            outcome.error = "timed_out: the job ran longer than \(Self.seconds(job.limits.timeoutSeconds))"
        } else if run.cancelled {
            outcome.status = .cancelled
            outcome.error = "cancelled"
        } else if let overflow = run.overflow {
            outcome.error = overflow == "result"
                ? "output_limit: the result is larger than \(Self.maxResultBytes >> 20) MiB"
                : "output_limit: the job wrote more than \(job.limits.maxOutputBytes) bytes to \(overflow)"
        } else if let report {
            let result = report["result"] ?? .null
            if report["ok"] == .bool(true), run.exitCode == 0, result.encoded().count > Self.maxResultBytes {
                outcome.error = "output_limit: the result is larger than \(Self.maxResultBytes >> 20) MiB"
            } else if report["ok"] == .bool(true), run.exitCode == 0 {
                outcome.status = .succeeded
                outcome.result = result
            } else {
                outcome.error = report["error"]?.stringValue ?? "failed"
            }
        } else if let signal = run.signal {
            outcome.error = Self.explain(signal: signal, job: job, limits: configuration.limits)
        } else {
            outcome.error = "exit: the process exited with code \(run.exitCode ?? -1) before reporting a result"
        }
        return outcome
    }

    static func explain(signal: Int, job: JobAssignment, limits: SandboxLimits) -> String {
        switch Int32(signal) {
        case SIGXCPU: return "cpu_limit: the job used more than \(limits.cpuSeconds(timeoutSeconds: job.limits.timeoutSeconds))s of CPU time"
        case SIGXFSZ: return "file_size_limit: the job wrote a file larger than \(limits.fileSizeMB) MiB"
        default: return "killed: the job died of signal \(signal) (\(String(cString: strsignal(Int32(signal)))))"
        }
    }

    static func seconds(_ value: Double) -> String {
        value == value.rounded() ? "\(Int(value))s" : "\(value)s"
    }

    /// Copies the job's files into `target`, files 0444 and the directory 0555: a root worker
    /// owns them, so a job (another uid) can read but not change them.
    static func placeReadOnly(_ source: String, at target: String) throws {
        let fileManager = FileManager.default
        try fileManager.createDirectory(atPath: target, withIntermediateDirectories: false)
        for name in try fileManager.contentsOfDirectory(atPath: source) {
            try fileManager.copyItem(atPath: source + "/" + name, toPath: target + "/" + name)
            try fileManager.setAttributes([.posixPermissions: 0o444], ofItemAtPath: target + "/" + name)
        }
        try fileManager.setAttributes([.posixPermissions: 0o555], ofItemAtPath: target)
    }

    static func milliseconds(_ duration: Duration) -> Int {
        Int(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
    }
}

/// A virtual environment being leased on another thread.
final class PendingLease: @unchecked Sendable {
    private let condition = NSCondition()
    private var result: Result<VenvLease, any Error>?

    func finish(_ result: Result<VenvLease, any Error>) {
        condition.lock()
        self.result = result
        condition.broadcast()
        condition.unlock()
    }

    /// The result, or nil if there is none after `timeout` seconds.
    func wait(timeout: TimeInterval) -> Result<VenvLease, any Error>? {
        condition.lock()
        defer { condition.unlock() }
        if result == nil { _ = condition.wait(until: Date().addingTimeInterval(timeout)) }
        return result
    }
}

/// Set once from any thread, read by the job's thread.
final class CancelFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    func set() { flag.store(true, ordering: .relaxed) }
    var isSet: Bool { flag.load(ordering: .relaxed) }
}
