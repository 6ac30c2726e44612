import AgentOSWire
import Foundation
import GRDB

/// A job: what to run, where it may run, and what happened.
public struct Job: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "jobs"

    /// Random id.
    public var id: String
    /// The project it belongs to.
    public var projectID: String
    /// Where it is in its life.
    public var status: JobStatus
    /// `server` for dispatched jobs.
    public var origin: String
    /// Python source.
    public var code: String
    /// Keyword arguments for `main`.
    public var inputs: [String: JSONValue]
    /// Cloud or private.
    public var target: JobTarget
    /// A worker name or id the submitter asked for.
    public var requestedWorker: String?
    /// Labels a worker must all carry.
    public var labels: [String]
    /// Limits the worker enforces.
    public var timeoutSeconds: Double
    /// Output cap per stream.
    public var maxOutputBytes: Int
    /// Higher runs first.
    public var priority: Int
    /// How many times it may be dispatched before a lost worker fails it.
    public var maxAttempts: Int
    /// How many times it has been dispatched.
    public var attempts: Int
    /// The worker running it (or that ran it last).
    public var workerID: String?
    /// That worker's name.
    public var workerName: String?
    /// The user who submitted it.
    public var submittedBy: String
    /// Client-chosen key making a submit idempotent per project.
    public var idempotencyKey: String?
    /// When it was submitted.
    public var createdAt: Date
    /// When it last entered the queue (submit, or back after a lost worker or a hand-back).
    public var queuedAt: Date
    /// When its current attempt was dispatched.
    public var startedAt: Date?
    /// When it ended.
    public var finishedAt: Date?
    /// `main`'s return value.
    public var result: JSONValue?
    /// Captured stdout.
    public var stdout: String
    /// Captured stderr.
    public var stderr: String
    /// Exit code of the process.
    public var exitCode: Int?
    /// Why it did not succeed.
    public var error: String?
    /// Whether output was cut.
    public var outputTruncated: Bool
    /// The skill it runs, if submitted by skill name.
    public var skill: String?
    /// The skill version, pinned at submit.
    public var skillVersion: Int?
    /// The function called with the inputs.
    public var entrypoint: String
    /// pip requirements (requirements.txt text).
    public var requirements: String
    /// Memory limit in MiB, when set.
    public var memoryMB: Int?
    /// Whether the job asked for network access.
    public var network: Bool
    /// The chat session it belongs to.
    public var sessionID: String?
    /// For a run record (`origin` `local`): the id the desktop gave it.
    public var clientRunID: String?
    /// For a run record: the device that ran it.
    public var device: String?
    /// Names of the folders, shared by the desktop that runs it, that the job sees at
    /// `/mnt/<name>`; only a private job has any.
    public var dirs: [String]

    /// A new queued job.
    public init(
        id: String = UUID().uuidString.lowercased(), projectID: String, code: String, inputs: [String: JSONValue],
        target: JobTarget, requestedWorker: String? = nil, labels: [String] = [], limits: JobLimits = JobLimits(),
        priority: Int = 0, maxAttempts: Int = 3, submittedBy: String, idempotencyKey: String? = nil,
        createdAt: Date = Date(), dirs: [String] = []
    ) {
        self.id = id
        self.projectID = projectID
        self.status = .queued
        self.origin = "server"
        self.code = code
        self.inputs = inputs
        self.target = target
        self.requestedWorker = requestedWorker
        self.labels = labels
        self.timeoutSeconds = limits.timeoutSeconds
        self.maxOutputBytes = limits.maxOutputBytes
        self.priority = priority
        self.maxAttempts = maxAttempts
        self.attempts = 0
        self.submittedBy = submittedBy
        self.idempotencyKey = idempotencyKey
        self.createdAt = createdAt
        self.queuedAt = createdAt
        self.stdout = ""
        self.stderr = ""
        self.outputTruncated = false
        self.entrypoint = "main"
        self.requirements = ""
        self.memoryMB = limits.memoryMB
        self.network = limits.network
        self.dirs = dirs
    }

    /// The limits as the bus carries them.
    public var limits: JobLimits {
        JobLimits(timeoutSeconds: timeoutSeconds, maxOutputBytes: maxOutputBytes, memoryMB: memoryMB, network: network)
    }

    /// Milliseconds from dispatch to end, once ended.
    public var durationMS: Int? {
        guard let startedAt, let finishedAt else { return nil }
        return Int((finishedAt.timeIntervalSince(startedAt) * 1000).rounded())
    }

    enum CodingKeys: String, CodingKey {
        case id, status, origin, code, inputs, target, labels, priority, attempts, result, stdout, stderr, error
        case projectID = "project_id"
        case requestedWorker = "requested_worker"
        case timeoutSeconds = "timeout_s"
        case maxOutputBytes = "max_output_bytes"
        case maxAttempts = "max_attempts"
        case workerID = "worker_id"
        case workerName = "worker_name"
        case submittedBy = "submitted_by"
        case idempotencyKey = "idempotency_key"
        case createdAt = "created_at"
        case queuedAt = "queued_at"
        case startedAt = "started_at"
        case finishedAt = "finished_at"
        case exitCode = "exit_code"
        case outputTruncated = "output_truncated"
        case skill, entrypoint, requirements, network, device, dirs
        case skillVersion = "skill_version"
        case memoryMB = "memory_mb"
        case sessionID = "session_id"
        case clientRunID = "client_run_id"
    }
}
