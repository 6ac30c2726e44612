import AgentOSWire
import Foundation
import GRDB

extension SQLiteStore {
    public func users() throws -> [User] {
        try writer.read { db in try User.order(Column("email").collating(.nocase)).fetchAll(db) }
    }

    public func updateUser(id: String, _ change: (inout User) -> Void) throws -> (before: User, after: User) {
        try writer.write { db in
            guard let before = try User.fetchOne(db, key: id) else { throw StoreError.notFound("user") }
            var after = before
            change(&after)
            let wasActiveAdmin = before.role == .admin && !before.disabled
            let isActiveAdmin = after.role == .admin && !after.disabled
            if wasActiveAdmin && !isActiveAdmin {
                let others = try User.filter(Column("role") == SystemRole.admin && Column("disabled") == false && Column("id") != id).fetchCount(db)
                guard others > 0 else { throw StoreError.conflict("the last enabled admin cannot be demoted or disabled") }
            }
            try after.update(db)
            return (before, after)
        }
    }
}
