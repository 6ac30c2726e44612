import Foundation

/// What one server's writes tell the other servers sharing the store.
public enum StoreEvent: Sendable, Equatable {
    /// A job entered the queue (submitted, handed back, its worker or server lost), with the
    /// attempts it had then: a run of a later attempt is newer than this news.
    case queued(QueuedJob, attempts: Int)
    /// A queued job left the queue (assigned by some server, cancelled, timed out, deleted).
    case dequeued(jobID: String)
    /// A running job was cancelled: the server whose worker runs that attempt stops it.
    case cancelled(jobID: String, attempt: Int, workerID: String)
    /// A job ended (its result, a cancel, a timeout, out of attempts): wake those waiting for it.
    case finished(jobID: String)
    /// A credential was revoked or a user disabled: drop the workers that use it.
    case revoked(RevokedCredential)
    /// Events may have been missed (the listening connection was lost and is back): read the
    /// queue again.
    case resync
}

/// What `StoreEvent.revoked` names.
public enum RevokedCredential: Sendable, Equatable {
    case user(String)
    case session(String)
    case personalToken(String)
    case workerToken(String)
}

/// A store several servers can share: each hears the others' writes as they commit.
public protocol SharedStore: AppStore {
    /// Calls `handler`, in commit order, with every event any server's writes cause from now
    /// on, this server's own included, until `stopEvents()`. The handler must not block.
    func startEvents(_ handler: @escaping @Sendable (StoreEvent) -> Void)

    /// Stops delivering events.
    func stopEvents()

    /// Records `file` with its bytes (kept once per SHA-256) in one transaction. Such a store
    /// keeps the bytes itself: `deleteFile` and `deleteProject` remove those no file names any
    /// more in their own transaction (and return them, already gone).
    func createFile(_ file: StoredFile, data: Data) throws -> StoredFile

    /// At most `length` bytes of the blob `sha256` from `offset`, reading only those; nil when
    /// there is no such blob.
    func readBlob(_ sha256: String, offset: Int, length: Int) throws -> Data?
}
