import AgentOSWire
import Foundation
import GRDB

extension AppStore {
    /// Persists a new queued job. With an idempotency key already used by the same user in
    /// the same project, returns that earlier job instead and `created == false`.
    /// `files` are recorded with the job in the same transaction.
    public func submit(_ job: Job, files: [JobFile] = []) throws -> (job: Job, created: Bool) {
        try writer.write { db in try Self.insert(job, files: files, db) }
    }

    /// Persists several submits in one transaction (group commit), each as `submit` would:
    /// one that fails (a constraint, a duplicate) is rolled back alone, to its savepoint, and
    /// reported in its place, while the others commit. Suspends rather than blocking a thread.
    public func submitAll(_ batch: [(job: Job, files: [JobFile])]) async throws -> [Result<(job: Job, created: Bool), any Error>] {
        try await writer.write { db in
            try batch.map { job, files in
                var outcome: Result<(job: Job, created: Bool), any Error> = .failure(CancellationError())
                try db.inSavepoint {
                    outcome = Result { try Self.insert(job, files: files, db) }
                    if case .failure = outcome { return .rollback }
                    return .commit
                }
                return outcome
            }
        }
    }

    /// The job `userID` submitted to `projectID` with this idempotency key, if any.
    public func job(projectID: String, submittedBy userID: String, idempotencyKey key: String) throws -> Job? {
        try writer.read { db in try Self.job(projectID: projectID, submittedBy: userID, idempotencyKey: key, db) }
    }

    private static func job(projectID: String, submittedBy userID: String, idempotencyKey key: String, _ db: Database) throws -> Job? {
        try Job.filter(Column("project_id") == projectID && Column("submitted_by") == userID && Column("idempotency_key") == key)
            .fetchOne(db)
    }

    private static func insert(_ job: Job, files: [JobFile], _ db: Database) throws -> (job: Job, created: Bool) {
        if let key = job.idempotencyKey, let existing = try Self.job(projectID: job.projectID, submittedBy: job.submittedBy, idempotencyKey: key, db) {
            return (existing, false)
        }
        let inserted = try job.inserted(db)
        for file in files { try file.insert(db) }
        return (inserted, true)
    }

    /// Stores a run record (a job a desktop ran locally, `origin` `local`). Idempotent by the
    /// desktop's id within the project: a second post returns the stored record.
    public func recordRun(_ job: Job) throws -> (job: Job, created: Bool) {
        try writer.write { db in
            if let clientID = job.clientRunID,
                let existing = try Job.filter(Column("project_id") == job.projectID && Column("client_run_id") == clientID).fetchOne(db)
            {
                return (existing, false)
            }
            return (try job.inserted(db), true)
        }
    }

    /// The job with this id.
    public func job(id: String) throws -> Job? {
        try writer.read { db in try Job.fetchCached(db, id: id) }
    }

    /// Jobs marked running, optionally only those on one worker.
    public func runningJobs(workerID: String? = nil) throws -> [Job] {
        try writer.read { db in
            // Asked once per HELLO: a statement compiled once, through jobs_worker.
            if let workerID {
                return try Job.fetchAll(
                    db.cachedStatement(sql: "SELECT * FROM jobs WHERE worker_id = ? AND status = 'running'"), arguments: [workerID])
            }
            // The status as a literal, so that SQLite may use the partial index jobs_running.
            return try Job.filter(sql: "status = 'running'").fetchAll(db)
        }
    }

    /// Moves a queued job to running on a worker, counting the attempt. Nil when the job is
    /// no longer queued (another path took it first). One assignment of `commitBusBatch`.
    public func assign(jobID: String, workerID: String, workerName: String, at now: Date = Date()) throws -> Job? {
        let assignment = Assignment(jobID: jobID, workerID: workerID, workerName: workerName)
        guard try commitBusBatch(results: [], assignments: [assignment], at: now).assigned.first! != nil else { return nil }
        return try job(id: jobID)
    }

    /// Records a worker's outcome, if it belongs to the job's current attempt on that worker;
    /// nil for a stale or duplicate result, which changes nothing. One result of `commitBusBatch`.
    public func finish(_ outcome: JobOutcome, workerID: String, at now: Date = Date()) throws -> Job? {
        guard try commitBusBatch(results: [(outcome, workerID)], assignments: [], at: now).finished.first! != nil else { return nil }
        return try job(id: outcome.jobID)
    }

    /// Puts a running job whose worker handed it back unrun into the queue again. The
    /// hand-back does not count against `max_attempts`.
    public func release(jobID: String, attempt: Int, workerID: String, at now: Date = Date()) throws -> Job? {
        try writer.write { db in
            guard var job = try Job.fetchOne(db, key: jobID), job.status == .running, job.attempts == attempt,
                job.workerID == workerID
            else { return nil }
            job.status = .queued
            job.queuedAt = now
            job.attempts -= 1
            job.workerID = nil
            job.workerName = nil
            job.startedAt = nil
            try job.update(db)
            return job
        }
    }

    /// A running job's worker died or vanished: back to the queue while attempts remain,
    /// else failed with `worker_lost`. Nil when the job is not running that attempt.
    public func loseJob(jobID: String, attempt: Int, at now: Date = Date()) throws -> Job? {
        try writer.write { db in
            guard var job = try Job.fetchOne(db, key: jobID), job.status == .running, job.attempts == attempt
            else { return nil }
            if job.attempts >= job.maxAttempts {
                job.status = .failed
                job.error = "worker_lost"
                job.finishedAt = now
            } else {
                job.status = .queued
                job.queuedAt = now
                job.workerID = nil
                job.workerName = nil
                job.startedAt = nil
            }
            try job.update(db)
            return job
        }
    }

    /// Ends a run whose worker never reported within the time limit and its grace period:
    /// `timed_out`. Nil when that attempt is no longer running.
    public func expire(jobID: String, attempt: Int, at now: Date = Date()) throws -> Job? {
        try writer.write { db in
            guard var job = try Job.fetchOne(db, key: jobID), job.status == .running, job.attempts == attempt else { return nil }
            job.status = .timedOut
            job.error = "timed_out: no result from worker \(job.workerName ?? "?") within the time limit"
            job.finishedAt = now
            try job.update(db)
            return job
        }
    }

    /// Cancels a queued or running job, returning it as it was just before and as it is now;
    /// nil when it has already ended.
    public func cancel(jobID: String, at now: Date = Date()) throws -> (before: Job, after: Job)? {
        try writer.write { db in
            guard let before = try Job.fetchOne(db, key: jobID), !before.status.isFinal else { return nil }
            var job = before
            job.status = .cancelled
            job.error = "cancelled"
            job.finishedAt = now
            try job.update(db)
            return (before, job)
        }
    }

    /// A page of a project's jobs, newest first, after the job with id `after` (a keyset
    /// cursor compared on the stored values, so no precision is lost in between).
    public func jobs(
        projectID: String, status: JobStatus?, origin: String?, skill: String? = nil, sessionID: String? = nil,
        after: String?, limit: Int
    ) throws -> [Job] {
        try writer.read { db in
            var request = Job.filter(Column("project_id") == projectID)
            if let status { request = request.filter(Column("status") == status) }
            if let origin { request = request.filter(Column("origin") == origin) }
            if let skill { request = request.filter(Column("skill") == skill) }
            if let sessionID { request = request.filter(Column("session_id") == sessionID) }
            if let after {
                request = request.filter(literal: "(created_at, id) < (SELECT created_at, id FROM jobs WHERE id = \(after))")
            }
            return try request.order(Column("created_at").desc, Column("id").desc).limit(limit).fetchAll(db)
        }
    }

    /// Fails jobs waiting in the queue since before `cutoff` with `no_eligible_worker`.
    public func failUnclaimed(queuedBefore cutoff: Date, at now: Date = Date()) throws -> [Job] {
        try writer.write { db in
            // Through the partial index jobs_queued: the literal status is what lets SQLite use it.
            let stale = try Job.filter(sql: "status = 'queued' AND queued_at < ?", arguments: [cutoff]).fetchAll(db)
            return try stale.map { job in
                var job = job
                job.status = .failed
                job.error = "no_eligible_worker"
                job.finishedAt = now
                try job.update(db)
                return job
            }
        }
    }
}
