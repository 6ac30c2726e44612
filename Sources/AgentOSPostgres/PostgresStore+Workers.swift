import AgentOSStore
import Foundation
import PostgresNIO

extension PostgresStore {
    public func workerConnected(_ record: WorkerRecord) throws {
        try write { db in try await db.upsert(record, into: "workers", logger: logger) }
    }

    public func worker(id: String) throws -> WorkerRecord? {
        try read { db in try await db.one(WorkerRecord.self, "SELECT * FROM workers WHERE id = \(id)", logger: logger) }
    }

    public func workerDisconnected(id: String, at now: Date) throws {
        try write { db in
            try await db.run("UPDATE workers SET online = false, last_seen_at = \(now) WHERE id = \(id) RETURNING 1", logger: logger)
        }
    }

    @discardableResult
    public func markAllWorkersOffline() throws -> Int {
        try write { db in try await db.run("UPDATE workers SET online = false WHERE online RETURNING 1", logger: logger) }
    }
}
