import AgentOSWire
import Foundation

/// What exchanging a refresh token did.
public enum RefreshOutcome: Sendable, Equatable {
    /// The token was live: it is spent now and `session` continues.
    case rotated(session: AuthSession, user: User)
    /// The token was already spent: someone replayed it, so the whole session is revoked.
    case reused(session: AuthSession)
    /// Unknown token, or its session is over, or its user disabled.
    case invalid
}

/// Who a CURVE key on the bus belongs to: the credential it was derived from.
public enum BusPeer: Sendable, Equatable {
    /// A cloud worker's token.
    case workerToken(id: String)
    /// A user's personal access token (a desktop attached from elsewhere).
    case personalToken(id: String, userID: String)

    /// The ZAP user id: which credential a connection was let in with.
    public var userID: String {
        switch self {
        case .workerToken(let id): "worker_token:\(id)"
        case .personalToken(let id, _): "personal_token:\(id)"
        }
    }
}

/// A queued job the dispatcher chose for a worker.
public struct Assignment: Sendable, Equatable {
    /// The job.
    public let jobID: String
    /// The worker's id.
    public let workerID: String
    /// The worker's name.
    public let workerName: String

    /// An assignment.
    public init(jobID: String, workerID: String, workerName: String) {
        self.jobID = jobID
        self.workerID = workerID
        self.workerName = workerName
    }
}

/// What a worker needs to run a job just assigned, read in the assigning transaction: the
/// columns the assignment carries, not the whole row.
public struct AssignedJob: Sendable, Equatable {
    /// The job.
    public let id: String
    /// The attempt just counted.
    public let attempt: Int
    /// Its project.
    public let projectID: String
    /// Python source.
    public let code: String
    /// Keyword arguments for the entrypoint.
    public let inputs: [String: JSONValue]
    /// Limits, with network already off when its project no longer allows it.
    public let limits: JobLimits
    /// The function called.
    public let entrypoint: String
    /// pip requirements.
    public let requirements: String
    /// Files the job reads.
    public let files: [JobFile]
    /// Names of the shared folders it sees at `/mnt/<name>`.
    public let dirs: [String]

    /// A job as assigned.
    public init(
        id: String, attempt: Int, projectID: String, code: String, inputs: [String: JSONValue], limits: JobLimits,
        entrypoint: String, requirements: String, files: [JobFile], dirs: [String]
    ) {
        self.id = id
        self.attempt = attempt
        self.projectID = projectID
        self.code = code
        self.inputs = inputs
        self.limits = limits
        self.entrypoint = entrypoint
        self.requirements = requirements
        self.files = files
        self.dirs = dirs
    }
}

/// A worker's outcome the store accepted, and the job's final state.
public struct FinishedJob: Sendable, Equatable {
    /// The job.
    public let id: String
    /// How it ended.
    public let status: JobStatus

    /// A finished job.
    public init(id: String, status: JobStatus) {
        self.id = id
        self.status = status
    }
}

/// What one bus batch changed.
public struct BusBatchCommit: Sendable {
    /// Per result, in order: the job it ended, or nil for a stale or duplicate result.
    public let finished: [FinishedJob?]
    /// Per assignment, in order: the job as assigned, or nil when it had left the queue.
    public let assigned: [AssignedJob?]

    /// What a batch changed.
    public init(finished: [FinishedJob?], assigned: [AssignedJob?]) {
        self.finished = finished
        self.assigned = assigned
    }
}
