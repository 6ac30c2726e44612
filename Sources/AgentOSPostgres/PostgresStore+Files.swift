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

    public func createFile(_ file: StoredFile, data: Data) throws -> StoredFile {
        try write { db in
            // Per blob, uploads and removals take turns: a removal never takes bytes that a
            // file on another server is being recorded with.
            try await db.lockName("blob", file.sha256, logger: logger)
            try await db.query("""
                INSERT INTO blobs (sha256, size, data) VALUES (\(file.sha256), \(data.count), \(data)) ON CONFLICT (sha256) DO NOTHING
                """, logger: logger)
            try await db.insert(file, into: "files", logger: logger)
        }
        return file
    }

    public func readBlob(_ sha256: String, offset: Int, length: Int) throws -> Data? {
        // substring counts from 1; a length past the end reads to the end.
        let count = min(length, Int(Int32.max))
        guard offset < Int(Int32.max) else { return Data() }
        return try read { db in
            try await db.scalar(Data.self, """
                SELECT substring(data FROM \(max(0, offset) + 1)::int FOR \(max(0, count))::int) FROM blobs WHERE sha256 = \(sha256)
                """, logger: logger)
        }
    }

    public func deleteFile(id: String) throws -> (file: StoredFile, orphanedBlob: String?)? {
        try write { db in
            guard let file = try await db.one(StoredFile.self, "DELETE FROM files WHERE id = \(id) RETURNING *", logger: logger) else {
                return nil
            }
            return (file, try await removeBlobIfUnused(file.sha256, db))
        }
    }

    /// Deletes the blob when no file names it any more; returns its hash if it did.
    func removeBlobIfUnused(_ sha256: String, _ db: PostgresConnection) async throws -> String? {
        try await db.lockName("blob", sha256, logger: logger)
        let deleted = try await db.run("""
            DELETE FROM blobs WHERE sha256 = \(sha256) AND NOT EXISTS (SELECT 1 FROM files WHERE sha256 = \(sha256)) RETURNING 1
            """, logger: logger)
        return deleted == 1 ? sha256 : nil
    }

    public func blobInUse(_ sha256: String) throws -> Bool {
        try read { db in try await db.scalar(Bool.self, "SELECT EXISTS (SELECT 1 FROM files WHERE sha256 = \(sha256))", logger: logger) ?? false }
    }

    public func jobFiles(jobID: String) throws -> [JobFile] {
        try read { db in try await db.all(JobFile.self, "SELECT * FROM job_files WHERE job_id = \(jobID) ORDER BY name COLLATE \"C\"", logger: logger) }
    }
}
