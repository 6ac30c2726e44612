import Foundation
import GRDB

extension SQLiteStore {
    public func busPeer(curveKey: String, now: Date) throws -> BusPeer? {
        try writer.read { db in
            if let token = try WorkerToken.filter(Column("curve_key") == curveKey && Column("revoked_at") == nil).fetchOne(db) {
                return .workerToken(id: token.id)
            }
            guard let token = try PersonalToken.filter(Column("curve_key") == curveKey).fetchOne(db), token.isLive(at: now),
                  let user = try User.fetchOne(db, key: token.userID), !user.disabled
            else { return nil }
            return .personalToken(id: token.id, userID: user.id)
        }
    }

    public func setWorkerTokenCurveKey(hash: String, curveKey: String) throws {
        try writer.write { db in
            try db.execute(
                sql: "UPDATE worker_tokens SET curve_key = ? WHERE token_hash = ? AND curve_key IS NULL",
                arguments: [curveKey, hash])
        }
    }
}
