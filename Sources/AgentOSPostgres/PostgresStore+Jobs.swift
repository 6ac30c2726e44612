import AgentOSStore
import AgentOSWire
import Foundation
import PostgresNIO

extension PostgresStore {
    public func submit(_ job: Job, files: [JobFile]) throws -> (job: Job, created: Bool) {
        try write { db in try await insert(job, files: files, db) }
    }

    public func submitAll(_ batch: [(job: Job, files: [JobFile])]) async throws -> [Result<(job: Job, created: Bool), any Error>] {
        // Already async: it suspends its caller's task instead of blocking a thread.
        try await client.withConnection { db in
            try await db.query("BEGIN", logger: logger)
            do {
                if let created = try await insertAtOnce(batch, db) {
                    try await db.query("COMMIT", logger: logger)
                    return created
                }
                var outcomes: [Result<(job: Job, created: Bool), any Error>] = []
                outcomes.reserveCapacity(batch.count)
                for (job, files) in batch {
                    // One that fails is rolled back alone, to its savepoint, and the others commit.
                    try await db.query("SAVEPOINT submit", logger: logger)
                    do {
                        outcomes.append(.success(try await insert(job, files: files, db)))
                        try await db.query("RELEASE SAVEPOINT submit", logger: logger)
                    } catch {
                        try await db.query("ROLLBACK TO SAVEPOINT submit", logger: logger)
                        outcomes.append(.failure(error))
                    }
                }
                try await db.query("COMMIT", logger: logger)
                return outcomes
            } catch {
                _ = try? await db.query("ROLLBACK", logger: logger)
                throw error
            }
        }
    }

    /// A batch none of whose jobs has an idempotency key, in three statements (jobs, files,
    /// notifications) inside a savepoint; nil, with nothing written, when it has keys or a
    /// statement fails, so that each job is then tried alone.
    private func insertAtOnce(_ batch: [(job: Job, files: [JobFile])], _ db: PostgresConnection) async throws -> [Result<(job: Job, created: Bool), any Error>]? {
        guard batch.count > 1, batch.allSatisfy({ $0.job.idempotencyKey == nil }) else { return nil }
        try await db.query("SAVEPOINT submit_batch", logger: logger)
        do {
            try await db.insertAll(batch.map(\.job), into: "jobs", logger: logger)
            try await db.insertAll(batch.flatMap(\.files), into: "job_files", logger: logger)
            try await db.notify(batch.map { StoreNotification.queued($0.job) }, logger: logger)
            try await db.query("RELEASE SAVEPOINT submit_batch", logger: logger)
            return batch.map { .success(($0.job, true)) }
        } catch {
            try await db.query("ROLLBACK TO SAVEPOINT submit_batch", logger: logger)
            return nil
        }
    }

    public func job(projectID: String, submittedBy userID: String, idempotencyKey key: String) throws -> Job? {
        try read { db in try await job(projectID: projectID, submittedBy: userID, idempotencyKey: key, db) }
    }

    private func job(projectID: String, submittedBy userID: String, idempotencyKey key: String, _ db: PostgresConnection) async throws -> Job? {
        try await db.one(Job.self, """
            SELECT * FROM jobs WHERE project_id = \(projectID) AND submitted_by = \(userID) AND idempotency_key = \(key)
            """, logger: logger)
    }

    /// Inserts a job with its files, or returns the job its idempotency key already names:
    /// also when another server inserts that job between the check and the insert, which the
    /// unique index `jobs_idempotency` refuses.
    private func insert(_ job: Job, files: [JobFile], _ db: PostgresConnection) async throws -> (job: Job, created: Bool) {
        if let key = job.idempotencyKey,
            let existing = try await self.job(projectID: job.projectID, submittedBy: job.submittedBy, idempotencyKey: key, db)
        {
            return (existing, false)
        }
        try await db.query("SAVEPOINT insert_job", logger: logger)
        do {
            try await db.insert(job, into: "jobs", logger: logger)
            for file in files { try await db.insert(file, into: "job_files", logger: logger) }
            try await db.notify([StoreNotification.queued(job)], logger: logger)
            try await db.query("RELEASE SAVEPOINT insert_job", logger: logger)
            return (job, true)
        } catch let error as PSQLError where error.isUniqueViolation && job.idempotencyKey != nil {
            try await db.query("ROLLBACK TO SAVEPOINT insert_job", logger: logger)
            guard let existing = try await self.job(
                projectID: job.projectID, submittedBy: job.submittedBy, idempotencyKey: job.idempotencyKey!, db)
            else { throw error }
            return (existing, false)
        }
    }

    public func recordRun(_ job: Job) throws -> (job: Job, created: Bool) {
        try write { db in
            if let clientID = job.clientRunID {
                // Locked by the desktop's id: two posts of the same run at once store it once.
                try await db.lockName("runs:\(job.projectID)", clientID, logger: logger)
                if let existing = try await db.one(
                    Job.self, "SELECT * FROM jobs WHERE project_id = \(job.projectID) AND client_run_id = \(clientID)", logger: logger)
                {
                    return (existing, false)
                }
            }
            try await db.insert(job, into: "jobs", logger: logger)
            return (job, true)
        }
    }

    public func job(id: String) throws -> Job? {
        try read { db in try await db.one(Job.self, "SELECT * FROM jobs WHERE id = \(id)", logger: logger) }
    }

    public func runningJobs(workerID: String?) throws -> [Job] {
        try read { db in
            if let workerID {
                return try await db.all(Job.self, "SELECT * FROM jobs WHERE worker_id = \(workerID) AND status = 'running'", logger: logger)
            }
            return try await db.all(Job.self, "SELECT * FROM jobs WHERE status = 'running'", logger: logger)
        }
    }

    public func release(jobID: String, attempt: Int, workerID: String, at now: Date) throws -> Job? {
        try write { db in
            try await announce(db, requeued: db.one(Job.self, """
                UPDATE jobs SET status = 'queued', queued_at = \(now), attempts = attempts - 1, worker_id = NULL,
                    worker_name = NULL, started_at = NULL
                WHERE id = \(jobID) AND status = 'running' AND attempts = \(attempt) AND worker_id = \(workerID)
                RETURNING *
                """, logger: logger))
        }
    }

    /// Tells the other servers of a job that went back to the queue (or, out of attempts, ended).
    private func announce(_ db: PostgresConnection, requeued job: Job?) async throws -> Job? {
        guard let job else { return nil }
        try await db.notify([job.status == .queued ? StoreNotification.queued(job) : StoreNotification.finished(job.id)], logger: logger)
        return job
    }

    public func loseJob(jobID: String, attempt: Int, heldBy serverID: String?, at now: Date) throws -> Job? {
        try write { db in
            try await announce(db, requeued: db.one(Job.self, """
                UPDATE jobs SET
                    status = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'queued' END,
                    error = CASE WHEN attempts >= max_attempts THEN 'worker_lost' ELSE error END,
                    finished_at = CASE WHEN attempts >= max_attempts THEN \(now) ELSE finished_at END,
                    queued_at = CASE WHEN attempts >= max_attempts THEN queued_at ELSE \(now) END,
                    worker_id = CASE WHEN attempts >= max_attempts THEN worker_id END,
                    worker_name = CASE WHEN attempts >= max_attempts THEN worker_name END,
                    started_at = CASE WHEN attempts >= max_attempts THEN started_at END,
                    server_id = NULL, lease_until = NULL
                WHERE id = \(jobID) AND status = 'running' AND attempts = \(attempt)
                  AND (\(serverID)::text IS NULL OR server_id = \(serverID))
                RETURNING *
                """, logger: logger))
        }
    }

    public func expire(jobID: String, attempt: Int, heldBy serverID: String?, at now: Date) throws -> Job? {
        try write { db in
            try await announce(db, requeued: db.one(Job.self, """
                UPDATE jobs SET status = 'timed_out', finished_at = \(now),
                    error = 'timed_out: no result from worker ' || COALESCE(worker_name, '?') || ' within the time limit'
                WHERE id = \(jobID) AND status = 'running' AND attempts = \(attempt)
                  AND (\(serverID)::text IS NULL OR server_id = \(serverID))
                RETURNING *
                """, logger: logger))
        }
    }

    public func cancel(jobID: String, at now: Date) throws -> (before: Job, after: Job)? {
        try write { db in
            guard let before = try await db.one(
                Job.self, "SELECT * FROM jobs WHERE id = \(jobID) AND status IN ('queued', 'running') FOR UPDATE", logger: logger)
            else { return nil }
            var job = before
            job.status = .cancelled
            job.error = "cancelled"
            job.finishedAt = now
            try await db.update(job, in: "jobs", logger: logger)
            // The server whose worker runs it stops it; every server's queue drops it.
            let stop = before.status == .running
                ? StoreNotification.cancelled(jobID, attempt: before.attempts, workerID: before.workerID ?? "")
                : StoreNotification.dequeued(jobID)
            try await db.notify([stop, StoreNotification.finished(jobID)], logger: logger)
            return (before, job)
        }
    }

    public func jobs(
        projectID: String, status: JobStatus?, origin: String?, skill: String?, sessionID: String?, after: String?, limit: Int
    ) throws -> [Job] {
        try read { db in
            try await db.all(Job.self, """
                SELECT * FROM jobs
                WHERE project_id = \(projectID)
                  AND (\(status?.rawValue)::text IS NULL OR status = \(status?.rawValue))
                  AND (\(origin)::text IS NULL OR origin = \(origin))
                  AND (\(skill)::text IS NULL OR skill = \(skill))
                  AND (\(sessionID)::text IS NULL OR session_id = \(sessionID))
                  AND (\(after)::text IS NULL OR (created_at, id) < (SELECT created_at, id FROM jobs WHERE id = \(after)))
                ORDER BY created_at DESC, id DESC LIMIT \(limit)
                """, logger: logger)
        }
    }

    public func failUnclaimed(queuedBefore cutoff: Date, at now: Date) throws -> [Job] {
        try write { db in
            let failed = try await db.all(Job.self, """
                UPDATE jobs SET status = 'failed', error = 'no_eligible_worker', finished_at = \(now)
                WHERE id IN (SELECT id FROM jobs WHERE status = 'queued' AND queued_at < \(cutoff) FOR UPDATE SKIP LOCKED)
                RETURNING *
                """, logger: logger)
            try await db.notify(failed.flatMap { [StoreNotification.dequeued($0.id), StoreNotification.finished($0.id)] }, logger: logger)
            return failed
        }
    }
}
