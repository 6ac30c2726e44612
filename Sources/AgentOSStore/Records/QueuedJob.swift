import AgentOSWire
import Foundation
import GRDB

/// What the dispatcher needs of a queued job to place it: where it may run and its place in
/// line. Code and inputs stay in the store until the job is assigned.
public struct QueuedJob: Sendable, Equatable, FetchableRecord {
    /// The job's id.
    public let id: String
    /// Higher runs first.
    public let priority: Int
    /// Older runs first among equal priorities.
    public let createdAt: Date
    /// Which workers may run it.
    public let placement: Placement
    /// Its project: dispatch is fair across projects and users, and queues are limited per project.
    public let projectID: String
    /// Who submitted it.
    public let submittedBy: String

    /// Where a job may run: jobs with the same placement can run on exactly the same workers.
    public struct Placement: Hashable, Sendable {
        /// Cloud or private.
        public let target: JobTarget
        /// For a private job, the user whose workers may run it; nil for a cloud job.
        public let owner: String?
        /// A worker name or id the submitter asked for.
        public let requestedWorker: String?
        /// Labels a worker must all carry.
        public let labels: Set<String>

        /// A placement.
        public init(target: JobTarget, owner: String?, requestedWorker: String?, labels: Set<String>) {
            self.target = target
            self.owner = owner
            self.requestedWorker = requestedWorker
            self.labels = labels
        }
    }

    /// A summary.
    public init(id: String, priority: Int, createdAt: Date, placement: Placement, projectID: String, submittedBy: String) {
        self.id = id
        self.priority = priority
        self.createdAt = createdAt
        self.placement = placement
        self.projectID = projectID
        self.submittedBy = submittedBy
    }

    /// The summary of a job from its placement columns: a private job's owner is its submitter.
    public init(
        id: String, priority: Int, createdAt: Date, target: JobTarget, projectID: String, submittedBy: String,
        requestedWorker: String?, labels: [String]
    ) {
        self.init(
            id: id, priority: priority, createdAt: createdAt,
            placement: Placement(
                target: target, owner: target == .private ? submittedBy : nil, requestedWorker: requestedWorker, labels: Set(labels)),
            projectID: projectID, submittedBy: submittedBy)
    }

    /// The summary of `job`.
    public init(_ job: Job) {
        id = job.id
        priority = job.priority
        createdAt = job.createdAt
        placement = Placement(
            target: job.target, owner: job.target == .private ? job.submittedBy : nil, requestedWorker: job.requestedWorker,
            labels: Set(job.labels))
        projectID = job.projectID
        submittedBy = job.submittedBy
    }

    /// Reads the columns `id, priority, created_at, target, project_id, submitted_by, requested_worker, labels`.
    public init(row: Row) throws {
        guard let target = JobTarget(rawValue: row["target"]) else {
            throw DatabaseError(message: "job \(row["id"] as String? ?? "?") has an unknown target")
        }
        let submittedBy: String = row["submitted_by"]
        let labels: String = row["labels"]
        id = row["id"]
        priority = row["priority"]
        createdAt = row["created_at"]
        placement = Placement(
            target: target, owner: target == .private ? submittedBy : nil, requestedWorker: row["requested_worker"],
            labels: Set(try JSONDecoder().decode([String].self, from: Data(labels.utf8))))
        projectID = row["project_id"]
        self.submittedBy = submittedBy
    }
}
