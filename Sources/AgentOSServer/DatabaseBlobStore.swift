import AgentOSAuth
import AgentOSStore
import Foundation

/// File bytes in a store several servers share (PostgreSQL's `blobs` table): every server
/// reads every upload, a `FETCH` reads only the chunk it asks for, and a file and its bytes
/// are written, and removed, in one transaction.
struct DatabaseBlobStore: BlobStore {
    let store: any SharedStore

    func addFile(_ data: Data, _ record: (String) -> StoredFile) throws -> StoredFile {
        try store.createFile(record(ContentHash.sha256Hex(data)), data: data)
    }

    func removeFile(id: String) throws -> Bool {
        try store.deleteFile(id: id) != nil
    }

    func removeProject(id: String) throws -> (blobsRemoved: Int, queuedJobs: [String]) {
        let deleted = try store.deleteProject(id: id)
        return (deleted.orphanedBlobs.count, deleted.queuedJobs)
    }

    func bytes(_ sha256: String) throws -> Data? {
        try store.readBlob(sha256, offset: 0, length: Int.max)
    }

    func read(_ sha256: String, offset: Int, length: Int) throws -> Data? {
        try store.readBlob(sha256, offset: offset, length: length)
    }
}
