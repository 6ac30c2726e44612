/// Where a job is in its life: `queued → running → succeeded | failed | timed_out | cancelled`.
public enum JobStatus: String, Codable, Sendable, CaseIterable {
    case queued
    case running
    case succeeded
    case failed
    case timedOut = "timed_out"
    case cancelled

    /// Whether the job has ended and will not change again.
    public var isFinal: Bool {
        switch self {
        case .queued, .running: false
        case .succeeded, .failed, .timedOut, .cancelled: true
        }
    }
}

/// Where a job may run: on cloud workers, or only on the submitter's own private worker.
public enum JobTarget: String, Codable, Sendable, CaseIterable {
    case cloud
    case `private`
}

/// Where a job ran: submitted to the server, or run on a desktop and recorded afterwards.
public enum JobOrigin: String, Codable, Sendable, CaseIterable {
    case server
    case local
}

/// What kind of worker a connection is.
public enum WorkerKind: String, Codable, Sendable, CaseIterable {
    /// A shared worker authenticated by a worker token.
    case cloud
    /// A user's desktop, authenticated as that user, serving only that user's private jobs.
    case `private`
}
