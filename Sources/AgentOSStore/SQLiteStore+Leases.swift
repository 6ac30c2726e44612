import AgentOSWire
import Foundation
import GRDB

extension SQLiteStore {
    public func heartbeat(server: ServerRecord, lease: JobLease, holding: [String], at now: Date) throws {
        try writer.write { db in
            var record = server
            record.heartbeatAt = now
            try record.upsert(db)
            let until = now.addingTimeInterval(lease.seconds)
            for jobID in holding {
                try db.execute(
                    sql: "UPDATE jobs SET lease_until = ? WHERE id = ? AND server_id = ? AND status = 'running'",
                    arguments: [until, jobID, lease.serverID])
            }
        }
    }

    public func servers(heardWithin seconds: Double, at now: Date) throws -> [ServerRecord] {
        try writer.read { db in
            try ServerRecord.filter(Column("heartbeat_at") >= now.addingTimeInterval(-seconds)).order(Column("started_at"), Column("id")).fetchAll(db)
        }
    }

    public func reapExpiredLeases(at now: Date) throws -> [Job] {
        try writer.write { db in
            let expired = try Job.filter(sql: "status = 'running' AND (lease_until IS NULL OR lease_until < ?)", arguments: [now]).fetchAll(db)
            return try expired.map { job in
                let lost = try Self.lose(job, at: now, db)
                try db.execute(sql: "UPDATE jobs SET server_id = NULL, lease_until = NULL WHERE id = ? AND status = 'queued'", arguments: [job.id])
                return lost
            }
        }
    }

    public func adopt(jobID: String, attempt: Int, workerID: String, lease: JobLease, at now: Date) throws -> Bool {
        try writer.write { db in
            try db.execute(sql: """
                UPDATE jobs SET server_id = ?, lease_until = ?
                WHERE id = ? AND status = 'running' AND attempts = ? AND worker_id = ?
                """, arguments: [lease.serverID, now.addingTimeInterval(lease.seconds), jobID, attempt, workerID])
            return db.changesCount == 1
        }
    }
}
