import Foundation
import GRDB

/// Who a CURVE key on the bus belongs to: the credential it was derived from.
public enum BusPeer: Sendable, Equatable {
    /// A cloud worker's token.
    case workerToken(id: String)
    /// A user's personal access token (a desktop attached from elsewhere).
    case personalToken(id: String, userID: String)

    /// The ZAP user id: which credential a connection was let in with.
    public var userID: String {
        switch self {
        case .workerToken(let id): "worker_token:\(id)"
        case .personalToken(let id, _): "personal_token:\(id)"
        }
    }
}

extension AppStore {
    /// The live credential whose bus key is `curveKey` (Z85): an unrevoked worker token, or
    /// an unrevoked, unexpired personal access token of a user who is not disabled.
    public func busPeer(curveKey: String, now: Date = Date()) throws -> BusPeer? {
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

    /// Gives the worker token with this hash its bus key, if it has none (a token made before
    /// the bus had CURVE, whose secret the server still has in its data directory).
    public func setWorkerTokenCurveKey(hash: String, curveKey: String) throws {
        try writer.write { db in
            try db.execute(
                sql: "UPDATE worker_tokens SET curve_key = ? WHERE token_hash = ? AND curve_key IS NULL",
                arguments: [curveKey, hash])
        }
    }
}
