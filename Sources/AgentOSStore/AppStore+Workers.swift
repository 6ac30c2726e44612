import Foundation
import GRDB

extension AppStore {
    /// Records a worker's hello (inserting or refreshing its row) as online.
    public func workerConnected(_ record: WorkerRecord) throws {
        try writer.write { db in try record.upsert(db) }
    }

    /// The worker with this id, connected or not.
    public func worker(id: String) throws -> WorkerRecord? {
        try writer.read { db in try WorkerRecord.fetchCached(db, id: id) }
    }

    /// Marks a worker offline.
    public func workerDisconnected(id: String, at now: Date = Date()) throws {
        _ = try writer.write { db in
            try WorkerRecord.filter(key: id).updateAll(db, Column("online").set(to: false), Column("last_seen_at").set(to: now))
        }
    }

    /// Marks every worker offline (on start, nothing is connected yet); returns how many the
    /// previous run had left online.
    @discardableResult
    public func markAllWorkersOffline() throws -> Int {
        try writer.write { db in
            try WorkerRecord.filter(Column("online") == true).updateAll(db, Column("online").set(to: false))
        }
    }
}
