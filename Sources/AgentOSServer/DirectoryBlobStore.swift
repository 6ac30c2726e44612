import AgentOSAuth
import AgentOSStore
import Foundation
import Synchronization

/// Where uploaded files' bytes live, content-addressed by SHA-256 (the same bytes are kept
/// once however many files name them), and the writes that must change them together with
/// the files' records.
protocol BlobStore: Sendable {
    /// Keeps `data` and records the file `record` makes of its hex SHA-256, as one step: a
    /// removal never takes bytes a new file has just been recorded with.
    func addFile(_ data: Data, _ record: (String) -> StoredFile) throws -> StoredFile
    /// Forgets a file, and its bytes once no file names them; false when there was no such file.
    func removeFile(id: String) throws -> Bool
    /// Deletes a project with its files and jobs, and the bytes no file names any more;
    /// returns how many blobs went and the jobs that were queued.
    func removeProject(id: String) throws -> (blobsRemoved: Int, queuedJobs: [String])
    /// The bytes of a blob, nil when missing.
    func bytes(_ sha256: String) throws -> Data?
    /// At most `length` bytes of a blob from `offset` (fewer at its end), nil when missing.
    /// Reads only those bytes, so a worker fetching a large file in chunks never makes the
    /// server hold the whole of it.
    func read(_ sha256: String, offset: Int, length: Int) throws -> Data?
}

extension BlobStore where Self == DirectoryBlobStore {
    /// Where a server keeps files' bytes: in the store when servers share it (PostgreSQL),
    /// so that each reads every upload; else in `directory`.
    static func serving(_ store: any AppStore, directory: String) throws -> any BlobStore {
        if let shared = store as? any SharedStore { return DatabaseBlobStore(store: shared) }
        return try DirectoryBlobStore(root: directory, store: store)
    }
}

/// File bytes on disk in the data directory, named by their SHA-256 (`blobs/ab/abcdef…`), for
/// a server on its own (SQLite). Writes go to a temporary file and are renamed into place, so a
/// reader never sees half a blob.
final class DirectoryBlobStore: BlobStore {
    let root: String
    private let store: any AppStore
    /// Held across "write blob + record file" and "forget file + remove blob", so a removal
    /// never takes bytes a new file has just been recorded with.
    private let lock = Mutex(())

    init(root: String, store: any AppStore) throws {
        self.root = root
        self.store = store
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    }

    func addFile(_ data: Data, _ record: (String) -> StoredFile) throws -> StoredFile {
        try lock.withLock { _ in try store.createFile(record(try put(data))) }
    }

    func removeFile(id: String) throws -> Bool {
        try lock.withLock { _ in
            guard let deleted = try store.deleteFile(id: id) else { return false }
            if let orphan = deleted.orphanedBlob { remove(orphan) }
            return true
        }
    }

    func removeProject(id: String) throws -> (blobsRemoved: Int, queuedJobs: [String]) {
        try lock.withLock { _ in
            let deleted = try store.deleteProject(id: id)
            let orphans = try deleted.orphanedBlobs.filter { try !store.blobInUse($0) }
            for hash in orphans { remove(hash) }
            return (orphans.count, deleted.queuedJobs)
        }
    }

    func bytes(_ sha256: String) throws -> Data? { get(sha256) }

    private func path(_ sha256: String) -> String {
        precondition(ContentHash.isSHA256Hex(sha256), "blob names are hex SHA-256")
        return "\(root)/\(sha256.prefix(2))/\(sha256)"
    }

    /// Stores `data` (if not already there) and returns its hex SHA-256.
    private func put(_ data: Data) throws -> String {
        let sha256 = ContentHash.sha256Hex(data)
        let target = path(sha256)
        if FileManager.default.fileExists(atPath: target) { return sha256 }
        let directory = "\(root)/\(sha256.prefix(2))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let temporary = "\(directory)/.\(UUID().uuidString).tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: data, attributes: [.posixPermissions: 0o600]) else {
            throw CocoaError(.fileWriteUnknown)
        }
        guard rename(temporary, target) == 0 else {
            unlink(temporary)
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
        return sha256
    }

    /// The bytes of a blob, nil when missing.
    func get(_ sha256: String) -> Data? {
        FileManager.default.contents(atPath: path(sha256))
    }

    func read(_ sha256: String, offset: Int, length: Int) -> Data? {
        guard let handle = FileHandle(forReadingAtPath: path(sha256)) else { return nil }
        defer { try? handle.close() }
        do {
            try handle.seek(toOffset: UInt64(max(0, offset)))
            return try handle.read(upToCount: max(0, length)) ?? Data()
        } catch {
            return nil
        }
    }

    /// Removes a blob (nothing refers to it any more).
    private func remove(_ sha256: String) {
        unlink(path(sha256))
    }
}
