import AgentOSWire
import Foundation
import GRDB

extension SQLiteStore {
    public func submit(_ job: Job, files: [JobFile]) throws -> (job: Job, created: Bool) {
        try writer.write { db in try Self.insert(job, files: files, db) }
    }

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

    public func job(id: String) throws -> Job? {
        try writer.read { db in try Job.fetchCached(db, id: id) }
    }

    public func runningJobs(workerID: String?) throws -> [Job] {
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



    public func release(jobID: String, attempt: Int, workerID: String, at now: Date) throws -> Job? {
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

    public func loseJob(jobID: String, attempt: Int, heldBy serverID: String?, at now: Date) throws -> Job? {
        try writer.write { db in
            guard let job = try Job.fetchOne(db, key: jobID), job.status == .running, job.attempts == attempt,
                try Self.held(jobID, by: serverID, db)
            else { return nil }
            return try Self.lose(job, at: now, db)
        }
    }

    /// Whether `serverID` (when given) holds the job's lease.
    static func held(_ jobID: String, by serverID: String?, _ db: Database) throws -> Bool {
        guard let serverID else { return true }
        return try String.fetchOne(db, sql: "SELECT server_id FROM jobs WHERE id = ?", arguments: [jobID]) == serverID
    }

    /// A running job back to the queue while attempts remain, else failed with `worker_lost`.
    static func lose(_ job: Job, at now: Date, _ db: Database) throws -> Job {
        var job = job
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

    public func expire(jobID: String, attempt: Int, heldBy serverID: String?, at now: Date) throws -> Job? {
        try writer.write { db in
            guard var job = try Job.fetchOne(db, key: jobID), job.status == .running, job.attempts == attempt,
                try Self.held(jobID, by: serverID, db)
            else { return nil }
            job.status = .timedOut
            job.error = "timed_out: no result from worker \(job.workerName ?? "?") within the time limit"
            job.finishedAt = now
            try job.update(db)
            return job
        }
    }

    public func cancel(jobID: String, at now: Date) throws -> (before: Job, after: Job)? {
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

    public func jobs(
        projectID: String, status: JobStatus?, origin: String?, skill: String?, sessionID: String?,
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

    public func failUnclaimed(queuedBefore cutoff: Date, at now: Date) throws -> [Job] {
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
