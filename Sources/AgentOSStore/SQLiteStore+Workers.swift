import Foundation
import GRDB

extension SQLiteStore {
    public func workerConnected(_ record: WorkerRecord) throws {
        try writer.write { db in try record.upsert(db) }
    }

    public func worker(id: String) throws -> WorkerRecord? {
        try writer.read { db in try WorkerRecord.fetchCached(db, id: id) }
    }

    public func workerDisconnected(id: String, at now: Date) throws {
        _ = try writer.write { db in
            try WorkerRecord.filter(key: id).updateAll(db, Column("online").set(to: false), Column("last_seen_at").set(to: now))
        }
    }

    @discardableResult
    public func markAllWorkersOffline() throws -> Int {
        try writer.write { db in
            try WorkerRecord.filter(Column("online") == true).updateAll(db, Column("online").set(to: false))
        }
    }
}
