import AgentOSStore
import Foundation
import PostgresNIO

extension PostgresStore {
    @discardableResult
    public func createFile(_ file: StoredFile) throws -> StoredFile {
        try write { db in try await db.insert(file, into: "files", logger: logger) }
        return file
    }

    public func file(id: String) throws -> StoredFile? {
        try read { db in try await db.one(StoredFile.self, "SELECT * FROM files WHERE id = \(id)", logger: logger) }
    }

    public func files(projectID: String, limit: Int, before: (Date, String)?) throws -> [StoredFile] {
        try read { db in
            if let (at, id) = before {
                return try await db.all(StoredFile.self, """
                    SELECT * FROM files WHERE project_id = \(projectID) AND (created_at, id) < (\(at), \(id))
                    ORDER BY created_at DESC, id DESC LIMIT \(limit)
                    """, logger: logger)
            }
            return try await db.all(StoredFile.self, """
                SELECT * FROM files WHERE project_id = \(projectID) ORDER BY created_at DESC, id DESC LIMIT \(limit)
                """, logger: logger)
        }
    }

    public func deleteFile(id: String) throws -> (file: StoredFile, orphanedBlob: String?)? {
        try write { db in
            guard let file = try await db.one(StoredFile.self, "DELETE FROM files WHERE id = \(id) RETURNING *", logger: logger) else {
                return nil
            }
            let left = try await db.scalar(Bool.self, "SELECT EXISTS (SELECT 1 FROM files WHERE sha256 = \(file.sha256))", logger: logger) ?? false
            return (file, left ? nil : file.sha256)
        }
    }

    public func blobInUse(_ sha256: String) throws -> Bool {
        try read { db in try await db.scalar(Bool.self, "SELECT EXISTS (SELECT 1 FROM files WHERE sha256 = \(sha256))", logger: logger) ?? false }
    }

    public func jobFiles(jobID: String) throws -> [JobFile] {
        try read { db in try await db.all(JobFile.self, "SELECT * FROM job_files WHERE job_id = \(jobID) ORDER BY name COLLATE \"C\"", logger: logger) }
    }
}
