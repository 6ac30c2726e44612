import AgentOSStore
import AgentOSWire
import Foundation
import PostgresNIO

extension PostgresStore {
    public func commitBusBatch(
        results: [(outcome: JobOutcome, workerID: String)], assignments: [Assignment], connected: [WorkerRecord], lease: JobLease?,
        at now: Date
    ) throws -> BusBatchCommit {
        try write { db in
            var notifications: [String] = []
            for record in connected { try await db.upsert(record, into: "workers", logger: logger) }

            var finished: [FinishedJob?] = []
            finished.reserveCapacity(results.count)
            for (outcome, workerID) in results {
                let status = outcome.status.isFinal ? outcome.status : .failed
                let result = try outcome.result.map { JSONText(text: try RecordCoding.jsonEncoder.encode($0)) }
                // The batch's time was taken when its loop iteration began: a job never ends
                // before it started.
                let changed = try await db.run("""
                    UPDATE jobs SET status = \(status.rawValue), result = \(result), stdout = \(outcome.stdout),
                        stderr = \(outcome.stderr), exit_code = \(outcome.exitCode), error = \(outcome.error),
                        output_truncated = \(outcome.outputTruncated), finished_at = GREATEST(\(now), started_at)
                    WHERE id = \(outcome.jobID) AND status = 'running' AND attempts = \(outcome.attempt) AND worker_id = \(workerID)
                    RETURNING 1
                    """, logger: logger)
                finished.append(changed == 1 ? FinishedJob(id: outcome.jobID, status: status) : nil)
                if changed == 1 { notifications.append(StoreNotification.finished(outcome.jobID)) }
            }

            var assigned: [AssignedJob?] = []
            assigned.reserveCapacity(assignments.count)
            for assignment in assignments {
                // A job started never before it was created; one another server holds locked
                // at this instant is skipped, not waited for, and reads as gone from the queue.
                // The lease runs on the database's clock, which every server shares.
                guard let row = try await db.one(AssignedRow.self, """
                    UPDATE jobs j SET status = 'running', attempts = attempts + 1, worker_id = \(assignment.workerID),
                        worker_name = \(assignment.workerName), started_at = GREATEST(\(now), created_at),
                        server_id = \(lease?.serverID), lease_until = now() + make_interval(secs => \(lease?.seconds ?? 0))
                    FROM (SELECT id FROM jobs WHERE id = \(assignment.jobID) AND status = 'queued' FOR UPDATE SKIP LOCKED) q
                    WHERE j.id = q.id
                    RETURNING j.attempts, j.project_id, j.code, j.inputs, j.timeout_s, j.max_output_bytes, j.memory_mb,
                        j.network AND (SELECT allow_network FROM projects p WHERE p.id = j.project_id) AS network,
                        j.entrypoint, j.requirements, j.dirs
                    """, logger: logger)
                else {
                    assigned.append(nil)
                    continue
                }
                notifications.append(StoreNotification.dequeued(assignment.jobID))
                let files = try await db.all(
                    JobFile.self, "SELECT * FROM job_files WHERE job_id = \(assignment.jobID) ORDER BY name COLLATE \"C\"", logger: logger)
                assigned.append(AssignedJob(
                    id: assignment.jobID, attempt: row.attempts, projectID: row.projectID, code: row.code, inputs: row.inputs,
                    limits: JobLimits(
                        timeoutSeconds: row.timeoutSeconds, maxOutputBytes: row.maxOutputBytes, memoryMB: row.memoryMB,
                        network: row.network ?? false),
                    entrypoint: row.entrypoint, requirements: row.requirements, files: files, dirs: row.dirs))
            }
            try await db.notify(notifications, logger: logger)
            return BusBatchCommit(finished: finished, assigned: assigned)
        }
    }

    public func queuedJobSummaries() throws -> [QueuedJob] {
        try read { db in
            try await db.all(QueuedRow.self, """
                SELECT id, priority, created_at, target, project_id, submitted_by, requested_worker, labels FROM jobs
                WHERE status = 'queued' ORDER BY created_at, id
                """, logger: logger).map(\.summary)
        }
    }
}

/// The columns an assignment returns.
private struct AssignedRow: Decodable {
    let attempts: Int
    let projectID: String
    let code: String
    let inputs: [String: JSONValue]
    let timeoutSeconds: Double
    let maxOutputBytes: Int
    let memoryMB: Int?
    /// The job asked for the network and its project (still) allows it.
    let network: Bool?
    let entrypoint: String
    let requirements: String
    let dirs: [String]

    enum CodingKeys: String, CodingKey {
        case attempts, code, inputs, network, entrypoint, requirements, dirs
        case projectID = "project_id"
        case timeoutSeconds = "timeout_s"
        case maxOutputBytes = "max_output_bytes"
        case memoryMB = "memory_mb"
    }
}

/// The placement columns of a queued job.
struct QueuedRow: Decodable {
    let id: String
    let priority: Int
    let createdAt: Date
    let target: JobTarget
    let projectID: String
    let submittedBy: String
    let requestedWorker: String?
    let labels: [String]
    /// Read by the notification listener only.
    let attempts: Int?

    enum CodingKeys: String, CodingKey {
        case id, priority, target, labels, attempts
        case createdAt = "created_at"
        case projectID = "project_id"
        case submittedBy = "submitted_by"
        case requestedWorker = "requested_worker"
    }

    var summary: QueuedJob {
        QueuedJob(
            id: id, priority: priority, createdAt: createdAt,
            placement: QueuedJob.Placement(
                target: target, owner: target == .private ? submittedBy : nil, requestedWorker: requestedWorker, labels: Set(labels)),
            projectID: projectID, submittedBy: submittedBy)
    }
}
