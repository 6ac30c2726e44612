import AgentOSWire

/// One of a job's two output streams.
public enum JobOutputStream: Sendable, Equatable {
    case stdout
    case stderr
}

/// Hears a job's output as it is written, from the job's own thread: `bytes` are what one
/// read of `stream` gave, within the job's cap. It must return quickly (copy and hand off).
public typealias JobOutputHandler = @Sendable (_ stream: JobOutputStream, _ bytes: ArraySlice<UInt8>) -> Void

/// What one run of a job gets beside the job itself.
public struct JobRunContext: Sendable {
    /// A directory whose files are placed read-only in the job's work dir under `files/`.
    public var inputFiles: String?
    /// Host folders bound at `/mnt/<name>` (only a desktop shares any).
    public var folders: [SharedFolder]
    /// Variables set in the job's environment for this run only, handed to the runner with
    /// its settings and never written to disk: what a run needs at run time and must not
    /// keep (a model provider's key). Names are `AGENTOS_*` (`isValidVariableName`).
    public var environment: [String: String]
    /// Hears the job's output while it runs; the outcome still carries the whole (capped) output.
    public var onOutput: JobOutputHandler?

    public init(inputFiles: String? = nil, folders: [SharedFolder] = [], environment: [String: String] = [:], onOutput: JobOutputHandler? = nil) {
        self.inputFiles = inputFiles
        self.folders = folders
        self.environment = environment
        self.onOutput = onOutput
    }

    /// Whether `name` may be given to a job: `AGENTOS_` and then 1-64 of `A-Z`, `0-9`, `_`,
    /// so that nothing given at run time can change how the interpreter or the loader behave.
    public static func isValidVariableName(_ name: String) -> Bool {
        guard name.hasPrefix("AGENTOS_") else { return false }
        let rest = name.utf8.dropFirst(8)
        return (1...64).contains(rest.count) && rest.allSatisfy { ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5F }
    }
}

/// Runs one job to an outcome. Workers, desktops and the sandbox service all execute
/// through this interface; cancelling the calling task stops the job.
public protocol JobEngine: Sendable {
    /// Runs `job` with the files in `inputFiles` (a directory) placed read-only in its work
    /// dir under `files/`, and reports how it ended; never throws: failures are outcomes.
    func run(_ job: JobAssignment, inputFiles: String?) async -> JobOutcome
    /// Runs `job` with all that `context` gives it.
    func run(_ job: JobAssignment, context: JobRunContext) async -> JobOutcome
}

extension JobEngine {
    public func run(_ job: JobAssignment) async -> JobOutcome {
        await run(job, inputFiles: nil)
    }

    /// An engine that cannot stream output reports it only in the outcome; one that cannot
    /// share folders or set a run's environment fails the jobs that ask.
    public func run(_ job: JobAssignment, context: JobRunContext) async -> JobOutcome {
        guard context.folders.isEmpty, context.environment.isEmpty else {
            return JobOutcome(jobID: job.jobID, attempt: job.attempt, status: .failed, error: "engine_error: this engine cannot share folders or set a run's environment")
        }
        return await run(job, inputFiles: context.inputFiles)
    }

    /// `run(_:context:)` with files, folders and an output handler.
    public func run(_ job: JobAssignment, inputFiles: String?, folders: [SharedFolder], onOutput: JobOutputHandler?) async -> JobOutcome {
        await run(job, context: JobRunContext(inputFiles: inputFiles, folders: folders, onOutput: onOutput))
    }
}
