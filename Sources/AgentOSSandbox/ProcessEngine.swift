import AgentOSWire
import Foundation
import Synchronization

/// Runs each job as a plain Python child process in a fresh temporary work directory with a
/// clean environment, a wall-time limit on its whole process group and capped output.
/// It isolates nothing else: the sandboxed engine replaces it where isolation is needed.
public struct ProcessEngine: JobEngine {
    /// Largest `main` return value, as JSON, that a job may produce.
    public static let maxResultBytes = 4 << 20

    /// The Python interpreter, an absolute path.
    public let python: String
    /// Where work directories are made.
    public let workRoot: String

    /// An engine using `python` (default: the system's python3) under `workRoot` (default: the temp dir).
    public init(python: String? = nil, workRoot: String? = nil) throws {
        self.python = try python ?? ProcessEngine.findPython()
        self.workRoot = workRoot ?? NSTemporaryDirectory()
    }

    /// Copies the job's files into `target`, files 0444 and the directory 0555.
    static func placeReadOnly(_ source: String, at target: String) throws {
        let fileManager = FileManager.default
        try fileManager.createDirectory(atPath: target, withIntermediateDirectories: false)
        for name in try fileManager.contentsOfDirectory(atPath: source) {
            try fileManager.copyItem(atPath: source + "/" + name, toPath: target + "/" + name)
            try fileManager.setAttributes([.posixPermissions: 0o444], ofItemAtPath: target + "/" + name)
        }
        try fileManager.setAttributes([.posixPermissions: 0o555], ofItemAtPath: target)
    }

    /// The system interpreter, preferring /usr/bin/python3 over wrappers earlier on PATH.
    public static func findPython() throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let candidates = ["/usr/bin/python3", "/usr/local/bin/python3"] + path.split(separator: ":").map { "\($0)/python3" }
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw SpawnError(code: ENOENT)
        }
        return found
    }

    public func run(_ job: JobAssignment, inputFiles: String?) async -> JobOutcome {
        let cancelled = CancelFlag()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                // Blocking reads and waitpid belong on their own thread, not the cooperative pool.
                let thread = Thread { continuation.resume(returning: runBlocking(job, inputFiles: inputFiles, cancelled: cancelled)) }
                thread.name = "agentos-job"
                thread.start()
            }
        } onCancel: {
            cancelled.set()
        }
    }

    private func runBlocking(_ job: JobAssignment, inputFiles: String?, cancelled: CancelFlag) -> JobOutcome {
        let started = ContinuousClock.now
        let fileManager = FileManager.default
        let workDir = (workRoot as NSString).appendingPathComponent("agentos-job-\(UUID().uuidString.lowercased())")
        defer {
            chmod(workDir + "/files", 0o700)
            try? fileManager.removeItem(atPath: workDir)
        }
        func failure(_ error: String) -> JobOutcome {
            JobOutcome(jobID: job.jobID, attempt: job.attempt, status: .failed, error: error,
                       durationMS: Self.milliseconds(ContinuousClock.now - started))
        }
        do {
            try fileManager.createDirectory(atPath: workDir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            try Data(RunnerScript.source.utf8).write(to: URL(fileURLWithPath: workDir + "/" + RunnerScript.fileName))
            try Data(job.code.utf8).write(to: URL(fileURLWithPath: workDir + "/" + RunnerScript.codeFile))
            try JSONValue.object(job.inputs).encoded().write(to: URL(fileURLWithPath: workDir + "/" + RunnerScript.inputsFile))
            if let inputFiles { try Self.placeReadOnly(inputFiles, at: workDir + "/files") }
        } catch {
            return failure("engine_error: could not prepare the work directory: \(error)")
        }
        let child: ChildResult
        do {
            child = try ChildProcess.run(
                arguments: [python, "-I", "-X", "utf8", workDir + "/" + RunnerScript.fileName, workDir, job.entrypoint],
                environment: [
                    "PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": workDir, "TMPDIR": workDir, "LANG": "C.UTF-8",
                    "PYTHONDONTWRITEBYTECODE": "1",
                ],
                directory: workDir, timeout: .milliseconds(Int64(job.limits.timeoutSeconds * 1000)),
                maxOutputBytes: job.limits.maxOutputBytes, isCancelled: { cancelled.isSet })
        } catch {
            return failure("engine_error: \(error)")
        }
        var outcome = JobOutcome(
            jobID: job.jobID, attempt: job.attempt, status: .failed,
            stdout: String(decoding: child.stdout, as: UTF8.self), stderr: String(decoding: child.stderr, as: UTF8.self),
            exitCode: child.exitCode, outputTruncated: child.outputTruncated, durationMS: Self.milliseconds(child.duration))
        if child.timedOut {
            outcome.status = .timedOut
            outcome.error = "timed_out: the job ran longer than \(job.limits.timeoutSeconds)s"
        } else if child.cancelled {
            outcome.status = .cancelled
            outcome.error = "cancelled"
        } else if let report = Self.readReport(workDir + "/" + RunnerScript.resultFile) {
            let result = report["result"] ?? .null
            if report["ok"] == .bool(true), child.exitCode == 0 {
                if result.encoded().count > Self.maxResultBytes {
                    outcome.error = "output_limit: the result is larger than \(Self.maxResultBytes >> 20) MiB"
                } else {
                    outcome.status = .succeeded
                    outcome.result = result
                }
            } else {
                outcome.error = report["error"]?.stringValue ?? "failed"
            }
        } else if let signal = child.signal {
            outcome.error = "killed: the process died of signal \(signal)"
        } else {
            outcome.error = "exit: the process exited with code \(child.exitCode ?? -1) before reporting a result"
        }
        return outcome
    }

    private static func readReport(_ path: String) -> JSONValue? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try? JSONValue.parse(data)
    }

    static func milliseconds(_ duration: Duration) -> Int {
        Int(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
    }
}

/// Set once from any thread, read by the job's thread.
final class CancelFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    func set() { flag.store(true, ordering: .relaxed) }
    var isSet: Bool { flag.load(ordering: .relaxed) }
}
