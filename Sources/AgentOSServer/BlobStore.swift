import AgentOSAuth
import AgentOSStore
import Foundation
import Synchronization

/// File bytes on disk, named by their SHA-256 (`blobs/ab/abcdef…`): the same bytes are
/// stored once however many files name them. Writes go to a temporary file and are renamed
/// into place, so a reader never sees half a blob.
final class BlobStore: Sendable {
    let root: String
    /// Held across "write blob + record file" and "forget file + remove blob", so a removal
    /// never takes bytes a new file has just been recorded with.
    private let lock = Mutex(())

    init(root: String) throws {
        self.root = root
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    }

    private func path(_ sha256: String) -> String {
        precondition(ContentHash.isSHA256Hex(sha256), "blob names are hex SHA-256")
        return "\(root)/\(sha256.prefix(2))/\(sha256)"
    }

    /// Runs `body` with the blob lock held.
    func exclusive<T>(_ body: () throws -> T) throws -> T {
        try lock.withLock { _ in try body() }
    }

    /// Stores `data` (if not already there) and returns its hex SHA-256.
    func put(_ data: Data) throws -> String {
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

    /// At most `length` bytes of a blob from `offset` (fewer at its end), nil when the blob
    /// is missing. Reads only those bytes, so a worker fetching a large file in chunks never
    /// makes the server hold the whole of it.
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
    func remove(_ sha256: String) {
        unlink(path(sha256))
    }
}
