import AgentOSWire
import Foundation
import GRDB

extension SQLiteStore {
    public func commitBusBatch(
        results: [(outcome: JobOutcome, workerID: String)], assignments: [Assignment], connected: [WorkerRecord], lease: JobLease?,
        at now: Date
    ) throws -> BusBatchCommit {
        let resultEncoder = Job.databaseJSONEncoder(for: Job.CodingKeys.result.stringValue)
        let inputsDecoder = Job.databaseJSONDecoder(for: Job.CodingKeys.inputs.stringValue)
        let dirsDecoder = Job.databaseJSONDecoder(for: Job.CodingKeys.dirs.stringValue)
        return try writer.write { db in
            // Compiled once per connection and reused: on the bus's hot path, preparing a
            // statement costs more than running it. The batch's time was taken when its loop
            // iteration began, which may be before a job submitted meanwhile was created: a job
            // never starts before it was created, nor ends before it started (times are stored
            // as text that sorts as they do).
            let finish = try db.cachedStatement(sql: """
                UPDATE jobs SET status = ?, result = ?, stdout = ?, stderr = ?, exit_code = ?, error = ?,
                    output_truncated = ?, finished_at = MAX(?, started_at)
                WHERE id = ? AND status = 'running' AND attempts = ? AND worker_id = ?
                """)
            let assign = try db.cachedStatement(sql: """
                UPDATE jobs SET status = 'running', attempts = attempts + 1, worker_id = ?, worker_name = ?,
                    started_at = MAX(?, created_at), server_id = ?, lease_until = ?
                WHERE id = ? AND status = 'queued'
                RETURNING attempts, project_id, code, inputs, timeout_s, max_output_bytes, memory_mb, network,
                    entrypoint, requirements, dirs
                """)
            let projectNetwork = try db.cachedStatement(sql: "SELECT allow_network FROM projects WHERE id = ?")
            let jobFiles = try db.cachedStatement(sql: "SELECT * FROM job_files WHERE job_id = ? ORDER BY name")
            // One conversion of the time for the whole batch.
            let stamp = now.databaseValue
            let leaseUntil = lease.map { now.addingTimeInterval($0.seconds).databaseValue } ?? .null

            for record in connected { try record.upsert(db) }

            var finished: [FinishedJob?] = []
            for (outcome, workerID) in results {
                let status = outcome.status.isFinal ? outcome.status : .failed
                let result = try outcome.result.map { String(decoding: try resultEncoder.encode($0), as: UTF8.self) }
                try finish.execute(arguments: [
                    status.rawValue, result, outcome.stdout, outcome.stderr, outcome.exitCode, outcome.error,
                    outcome.outputTruncated, stamp, outcome.jobID, outcome.attempt, workerID,
                ])
                finished.append(db.changesCount == 1 ? FinishedJob(id: outcome.jobID, status: status) : nil)
            }

            var assigned: [AssignedJob?] = []
            for assignment in assignments {
                guard let row = try Row.fetchOne(
                    assign, arguments: [assignment.workerID, assignment.workerName, stamp, lease?.serverID, leaseUntil, assignment.jobID])
                else {
                    assigned.append(nil)
                    continue
                }
                let projectID: String = row["project_id"]
                var network: Bool = row["network"]
                // Checked at submit; an admin may have turned the network off for the project since.
                if network { network = try Bool.fetchOne(projectNetwork, arguments: [projectID]) ?? false }
                let inputsText: String = row["inputs"]
                let dirsText: String = row["dirs"]
                assigned.append(AssignedJob(
                    id: assignment.jobID, attempt: row["attempts"], projectID: projectID, code: row["code"],
                    inputs: try inputsDecoder.decode([String: JSONValue].self, from: Data(inputsText.utf8)),
                    limits: JobLimits(
                        timeoutSeconds: row["timeout_s"], maxOutputBytes: row["max_output_bytes"], memoryMB: row["memory_mb"],
                        network: network),
                    entrypoint: row["entrypoint"], requirements: row["requirements"],
                    files: try JobFile.fetchAll(jobFiles, arguments: [assignment.jobID]),
                    dirs: try dirsDecoder.decode([String].self, from: Data(dirsText.utf8))))
            }
            return BusBatchCommit(finished: finished, assigned: assigned)
        }
    }

    public func queuedJobSummaries() throws -> [QueuedJob] {
        try writer.read { db in
            try QueuedJob.fetchAll(db, sql: """
                SELECT id, priority, created_at, target, project_id, submitted_by, requested_worker, labels FROM jobs WHERE status = 'queued'
                ORDER BY created_at, id
                """)
        }
    }
}
