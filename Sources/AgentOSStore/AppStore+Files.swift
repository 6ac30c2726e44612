import Foundation
import GRDB

extension AppStore {
    /// Stores file metadata (the blob is already on disk).
    @discardableResult
    public func createFile(_ file: StoredFile) throws -> StoredFile {
        try writer.write { db in try file.inserted(db) }
    }

    /// The file with this id.
    public func file(id: String) throws -> StoredFile? {
        try writer.read { db in try StoredFile.fetchOne(db, key: id) }
    }

    /// A project's files, newest first, at most `limit`, those older than `before` (a cursor).
    public func files(projectID: String, limit: Int, before: (Date, String)? = nil) throws -> [StoredFile] {
        try writer.read { db in
            var request = StoredFile.filter(Column("project_id") == projectID)
            if let (at, id) = before {
                request = request.filter(Column("created_at") < at || (Column("created_at") == at && Column("id") < id))
            }
            return try request.order(Column("created_at").desc, Column("id").desc).limit(limit).fetchAll(db)
        }
    }

    /// Deletes a file's metadata. Returns its hash when no file refers to those bytes any
    /// more, so the caller removes the blob.
    public func deleteFile(id: String) throws -> (file: StoredFile, orphanedBlob: String?)? {
        try writer.write { db in
            guard let file = try StoredFile.fetchOne(db, key: id) else { return nil }
            try file.delete(db)
            let left = try StoredFile.filter(Column("sha256") == file.sha256).fetchCount(db)
            return (file, left == 0 ? file.sha256 : nil)
        }
    }

    /// Whether any file refers to these bytes (checked before a blob is removed).
    public func blobInUse(_ sha256: String) throws -> Bool {
        try writer.read { db in try StoredFile.filter(Column("sha256") == sha256).fetchCount(db) > 0 }
    }

    /// The files a job was given.
    public func jobFiles(jobID: String) throws -> [JobFile] {
        try writer.read { db in try JobFile.filter(Column("job_id") == jobID).order(Column("name")).fetchAll(db) }
    }
}
