import Foundation
import GRDB

extension SQLiteStore {
    @discardableResult
    public func createFile(_ file: StoredFile) throws -> StoredFile {
        try writer.write { db in try file.inserted(db) }
    }

    public func file(id: String) throws -> StoredFile? {
        try writer.read { db in try StoredFile.fetchOne(db, key: id) }
    }

    public func files(projectID: String, limit: Int, before: (Date, String)?) throws -> [StoredFile] {
        try writer.read { db in
            var request = StoredFile.filter(Column("project_id") == projectID)
            if let (at, id) = before {
                request = request.filter(Column("created_at") < at || (Column("created_at") == at && Column("id") < id))
            }
            return try request.order(Column("created_at").desc, Column("id").desc).limit(limit).fetchAll(db)
        }
    }

    public func deleteFile(id: String) throws -> (file: StoredFile, orphanedBlob: String?)? {
        try writer.write { db in
            guard let file = try StoredFile.fetchOne(db, key: id) else { return nil }
            try file.delete(db)
            let left = try StoredFile.filter(Column("sha256") == file.sha256).fetchCount(db)
            return (file, left == 0 ? file.sha256 : nil)
        }
    }

    public func blobInUse(_ sha256: String) throws -> Bool {
        try writer.read { db in try StoredFile.filter(Column("sha256") == sha256).fetchCount(db) > 0 }
    }

    public func jobFiles(jobID: String) throws -> [JobFile] {
        try writer.read { db in try JobFile.filter(Column("job_id") == jobID).order(Column("name")).fetchAll(db) }
    }
}
