import AgentOSWire

/// One of a job's two output streams.
public enum JobOutputStream: Sendable, Equatable {
    case stdout
    case stderr
}

/// Hears a job's output as it is written, from the job's own thread: `bytes` are what one
/// read of `stream` gave, within the job's cap. It must return quickly (copy and hand off).
public typealias JobOutputHandler = @Sendable (_ stream: JobOutputStream, _ bytes: ArraySlice<UInt8>) -> Void

/// Runs one job to an outcome. Workers, desktops and the sandbox service all execute
/// through this interface; cancelling the calling task stops the job.
public protocol JobEngine: Sendable {
    /// Runs `job` and reports how it ended; never throws: failures are outcomes.
    func run(_ job: JobAssignment) async -> JobOutcome
    /// Runs `job` with the files in `inputFiles` (a directory) placed read-only in its work
    /// dir under `files/`.
    func run(_ job: JobAssignment, inputFiles: String?) async -> JobOutcome
    /// As `run(_:inputFiles:)`, and hands `onOutput` the job's output while it runs; the
    /// outcome still carries the whole (capped) output.
    func run(_ job: JobAssignment, inputFiles: String?, onOutput: JobOutputHandler?) async -> JobOutcome
    /// As `run(_:inputFiles:onOutput:)`, with `folders` of the host bound at `/mnt/<name>`.
    func run(_ job: JobAssignment, inputFiles: String?, folders: [SharedFolder], onOutput: JobOutputHandler?) async -> JobOutcome
}

extension JobEngine {
    public func run(_ job: JobAssignment) async -> JobOutcome {
        await run(job, inputFiles: nil)
    }

    /// An engine that cannot stream output reports it only in the outcome.
    public func run(_ job: JobAssignment, inputFiles: String?, onOutput: JobOutputHandler?) async -> JobOutcome {
        await run(job, inputFiles: inputFiles)
    }

    /// An engine that cannot share folders runs jobs without any, and fails those that ask.
    public func run(_ job: JobAssignment, inputFiles: String?, folders: [SharedFolder], onOutput: JobOutputHandler?) async -> JobOutcome {
        guard folders.isEmpty else {
            return JobOutcome(jobID: job.jobID, attempt: job.attempt, status: .failed, error: "engine_error: this engine cannot share folders")
        }
        return await run(job, inputFiles: inputFiles, onOutput: onOutput)
    }
}
