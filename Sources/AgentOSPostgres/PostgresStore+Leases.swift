import AgentOSStore
import Foundation
import PostgresNIO

extension PostgresStore {
    public func heartbeat(server: ServerRecord, lease: JobLease, holding: [String], at now: Date) throws {
        try write { db in
            try await db.query("""
                INSERT INTO servers (id, bus_endpoint, api_endpoint, started_at, heartbeat_at)
                VALUES (\(server.id), \(server.busEndpoint), \(server.apiEndpoint), \(server.startedAt), now())
                ON CONFLICT (id) DO UPDATE SET bus_endpoint = EXCLUDED.bus_endpoint, api_endpoint = EXCLUDED.api_endpoint,
                    heartbeat_at = now()
                """, logger: logger)
            try await db.query("""
                UPDATE jobs SET lease_until = now() + make_interval(secs => \(lease.seconds))
                WHERE id = ANY(\(holding)::text[]) AND server_id = \(lease.serverID) AND status = 'running'
                """, logger: logger)
        }
    }

    public func servers(heardWithin seconds: Double, at now: Date) throws -> [ServerRecord] {
        try read { db in
            try await db.all(ServerRecord.self, """
                SELECT * FROM servers WHERE heartbeat_at >= now() - make_interval(secs => \(seconds)) ORDER BY started_at, id
                """, logger: logger)
        }
    }

    public func reapExpiredLeases(at now: Date) throws -> [Job] {
        try write { db in
            // Locked and skipped when another server's reaper holds them: each is reaped once.
            let jobs = try await db.all(Job.self, """
                UPDATE jobs j SET
                    status = CASE WHEN j.attempts >= j.max_attempts THEN 'failed' ELSE 'queued' END,
                    error = CASE WHEN j.attempts >= j.max_attempts THEN 'worker_lost' ELSE j.error END,
                    finished_at = CASE WHEN j.attempts >= j.max_attempts THEN \(now) ELSE j.finished_at END,
                    queued_at = CASE WHEN j.attempts >= j.max_attempts THEN j.queued_at ELSE \(now) END,
                    worker_id = CASE WHEN j.attempts >= j.max_attempts THEN j.worker_id END,
                    worker_name = CASE WHEN j.attempts >= j.max_attempts THEN j.worker_name END,
                    started_at = CASE WHEN j.attempts >= j.max_attempts THEN j.started_at END,
                    server_id = NULL, lease_until = NULL
                FROM (SELECT id FROM jobs WHERE status = 'running' AND (lease_until IS NULL OR lease_until < now())
                      FOR UPDATE SKIP LOCKED) expired
                WHERE j.id = expired.id
                RETURNING j.*
                """, logger: logger)
            try await db.notify(jobs.map { $0.status == .queued ? StoreNotification.queued($0) : StoreNotification.finished($0.id) }, logger: logger)
            return jobs
        }
    }

    public func adopt(jobID: String, attempt: Int, workerID: String, lease: JobLease, at now: Date) throws -> Bool {
        try write { db in
            try await db.run("""
                UPDATE jobs SET server_id = \(lease.serverID), lease_until = now() + make_interval(secs => \(lease.seconds))
                WHERE id = \(jobID) AND status = 'running' AND attempts = \(attempt) AND worker_id = \(workerID)
                RETURNING 1
                """, logger: logger) == 1
        }
    }
}
