import Foundation
import GRDB

extension SQLiteStore {
    public func audit(_ entry: AuditEntry) throws {
        var entry = entry
        try writer.write { db in try entry.insert(db) }
    }

    public func auditEntries(action: String?, beforeSeq: Int64?, limit: Int) throws -> [AuditEntry] {
        try writer.read { db in
            var request = AuditEntry.all()
            if let action {
                request = action.hasSuffix(".")
                    ? request.filter(Column("action").like(action.replacingOccurrences(of: "%", with: "") + "%"))
                    : request.filter(Column("action") == action)
            }
            if let beforeSeq { request = request.filter(Column("seq") < beforeSeq) }
            return try request.order(Column("seq").desc).limit(limit).fetchAll(db)
        }
    }
}
