import GRDB

/// Domain errors the store's named writes raise.
public enum StoreError: Error, Equatable, Sendable {
    /// A unique value (email, project name, idempotency key) is already taken.
    case conflict(String)
    /// The record does not exist.
    case notFound(String)

    /// Maps SQLite constraint failures to `conflict`, passing other errors through.
    static func mapping<T>(_ what: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as DatabaseError where error.extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE
            || error.extendedResultCode == .SQLITE_CONSTRAINT_PRIMARYKEY
        {
            throw StoreError.conflict(what)
        }
    }
}
