import AgentOSStore
import AgentOSWire
import Foundation
import PostgresNIO

extension PostgresStore {
    /// The batch in a few set-based statements, however many results and assignments it
    /// holds (each a round trip to the database): the results' updates from arrays, the
    /// assignments' claims from arrays, their files in one read, the notifications in one.
    public func commitBusBatch(
        results: [(outcome: JobOutcome, workerID: String)], assignments: [Assignment], connected: [WorkerRecord], lease: JobLease?,
        at now: Date
    ) throws -> BusBatchCommit {
        try write { db in
            for record in connected { try await db.upsert(record, into: "workers", logger: logger) }
            let finished = try await recordResults(results, at: now, db)
            let assigned = try await claim(assignments, lease: lease, at: now, db)
            try await db.notify(
                finished.compactMap { $0.map { StoreNotification.finished($0.id) } }
                    + assigned.compactMap { $0.map { StoreNotification.dequeued($0.id) } },
                logger: logger)
            return BusBatchCommit(finished: finished, assigned: assigned)
        }
    }

    /// Each result counts only if its job still runs that attempt on that worker. Results for
    /// the same job in one batch go in rounds, in order, as they would one by one: a later one
    /// finds the job ended by an earlier one, unless that one was stale.
    private func recordResults(
        _ results: [(outcome: JobOutcome, workerID: String)], at now: Date, _ db: PostgresConnection
    ) async throws -> [FinishedJob?] {
        var rounds: [[Int]] = []
        var occurrences: [String: Int] = [:]
        for (index, result) in results.enumerated() {
            let round = occurrences[result.outcome.jobID, default: 0]
            occurrences[result.outcome.jobID] = round + 1
            if rounds.count <= round { rounds.append([]) }
            rounds[round].append(index)
        }
        var finished = [FinishedJob?](repeating: nil, count: results.count)
        for round in rounds {
            let ended = try await recordResultsOnce(round.map { results[$0] }, at: now, db)
            for index in round where ended.contains(results[index].outcome.jobID) {
                let outcome = results[index].outcome
                finished[index] = FinishedJob(id: outcome.jobID, status: outcome.status.isFinal ? outcome.status : .failed)
            }
        }
        return finished
    }

    /// One statement for results of distinct jobs; returns the jobs it ended.
    private func recordResultsOnce(
        _ results: [(outcome: JobOutcome, workerID: String)], at now: Date, _ db: PostgresConnection
    ) async throws -> Set<String> {
        var ids: [String] = [], attempts: [Int] = [], workers: [String] = [], statuses: [String] = []
        var hasResult: [Bool] = [], values: [String] = [], stdouts: [String] = [], stderrs: [String] = []
        var exitCodes: [Int] = [], hasExitCode: [Bool] = [], errors: [String] = [], hasError: [Bool] = [], truncated: [Bool] = []
        for (outcome, workerID) in results {
            ids.append(outcome.jobID)
            attempts.append(outcome.attempt)
            workers.append(workerID)
            statuses.append((outcome.status.isFinal ? outcome.status : .failed).rawValue)
            hasResult.append(outcome.result != nil)
            values.append(try outcome.result.map { String(decoding: try RecordCoding.jsonEncoder.encode($0), as: UTF8.self) } ?? "")
            stdouts.append(outcome.stdout)
            stderrs.append(outcome.stderr)
            hasExitCode.append(outcome.exitCode != nil)
            exitCodes.append(outcome.exitCode ?? 0)
            hasError.append(outcome.error != nil)
            errors.append(outcome.error ?? "")
            truncated.append(outcome.outputTruncated)
        }
        // The batch's time was taken when its loop iteration began: a job never ends before
        // it started.
        return Set(try await db.column(String.self, """
            UPDATE jobs j SET status = r.status, result = CASE WHEN r.has_result THEN r.value::json END, stdout = r.stdout,
                stderr = r.stderr, exit_code = CASE WHEN r.has_exit_code THEN r.exit_code END,
                error = CASE WHEN r.has_error THEN r.error END, output_truncated = r.truncated,
                finished_at = GREATEST(\(now), j.started_at)
            FROM unnest(\(ids)::text[], \(attempts)::bigint[], \(workers)::text[], \(statuses)::text[], \(hasResult)::bool[],
                        \(values)::text[], \(stdouts)::text[], \(stderrs)::text[], \(hasExitCode)::bool[], \(exitCodes)::bigint[],
                        \(hasError)::bool[], \(errors)::text[], \(truncated)::bool[])
                AS r(id, attempt, worker, status, has_result, value, stdout, stderr, has_exit_code, exit_code, has_error, error, truncated)
            WHERE j.id = r.id AND j.status = 'running' AND j.attempts = r.attempt AND j.worker_id = r.worker
            RETURNING j.id
            """, logger: logger))
    }

    /// Claims the assigned jobs still queued. A job started never before it was created; one
    /// another server holds locked at this instant is skipped, not waited for, and reads as
    /// gone from the queue. The lease runs on the database's clock, which every server shares.
    private func claim(_ assignments: [Assignment], lease: JobLease?, at now: Date, _ db: PostgresConnection) async throws -> [AssignedJob?] {
        guard !assignments.isEmpty else { return [] }
        var seen = Set<String>()
        let unique = assignments.filter { seen.insert($0.jobID).inserted }
        let ids = unique.map(\.jobID), workers = unique.map(\.workerID), names = unique.map(\.workerName)
        let rows = try await db.all(AssignedRow.self, """
            UPDATE jobs j SET status = 'running', attempts = j.attempts + 1, worker_id = a.worker, worker_name = a.name,
                started_at = GREATEST(\(now), j.created_at),
                server_id = \(lease?.serverID), lease_until = now() + make_interval(secs => \(lease?.seconds ?? 0))
            FROM unnest(\(ids)::text[], \(workers)::text[], \(names)::text[]) AS a(id, worker, name)
            WHERE j.id = a.id
              AND j.id IN (SELECT id FROM jobs WHERE id = ANY(\(ids)::text[]) AND status = 'queued' FOR UPDATE SKIP LOCKED)
            RETURNING j.id, j.attempts, j.project_id, j.code, j.inputs, j.timeout_s, j.max_output_bytes, j.memory_mb,
                j.network AND (SELECT allow_network FROM projects p WHERE p.id = j.project_id) AS network,
                j.entrypoint, j.requirements, j.dirs
            """, logger: logger)
        let claimed = Dictionary(rows.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        var files: [String: [JobFile]] = [:]
        if !claimed.isEmpty {
            for file in try await db.all(JobFile.self, """
                SELECT * FROM job_files WHERE job_id = ANY(\(Array(claimed.keys))::text[]) ORDER BY job_id, name COLLATE "C"
                """, logger: logger) {
                files[file.jobID, default: []].append(file)
            }
        }
        var given = Set<String>()
        return assignments.map { assignment in
            guard let row = claimed[assignment.jobID], given.insert(assignment.jobID).inserted else { return nil }
            return AssignedJob(
                id: assignment.jobID, attempt: row.attempts, projectID: row.projectID, code: row.code, inputs: row.inputs,
                limits: JobLimits(
                    timeoutSeconds: row.timeoutSeconds, maxOutputBytes: row.maxOutputBytes, memoryMB: row.memoryMB,
                    network: row.network ?? false),
                entrypoint: row.entrypoint, requirements: row.requirements, files: files[assignment.jobID] ?? [], dirs: row.dirs)
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
    let id: String
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
        case id, attempts, code, inputs, network, entrypoint, requirements, dirs
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
            id: id, priority: priority, createdAt: createdAt, target: target, projectID: projectID, submittedBy: submittedBy,
            requestedWorker: requestedWorker, labels: labels)
    }
}
