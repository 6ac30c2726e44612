import AgentOSWire

/// Runs one job to an outcome. Workers, desktops and the sandbox service all execute
/// through this interface; cancelling the calling task stops the job.
public protocol JobEngine: Sendable {
    /// Runs `job` and reports how it ended; never throws: failures are outcomes.
    func run(_ job: JobAssignment) async -> JobOutcome
    /// Runs `job` with the files in `inputFiles` (a directory) placed read-only in its work
    /// dir under `files/`.
    func run(_ job: JobAssignment, inputFiles: String?) async -> JobOutcome
}

extension JobEngine {
    public func run(_ job: JobAssignment) async -> JobOutcome {
        await run(job, inputFiles: nil)
    }
}
