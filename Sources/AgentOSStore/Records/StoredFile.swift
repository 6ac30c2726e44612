import Foundation
import GRDB

/// A file's metadata; its bytes are a blob named by their SHA-256.
public struct StoredFile: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "files"

    public var id: String
    public var projectID: String
    public var name: String
    public var sha256: String
    public var size: Int
    public var contentType: String
    public var createdBy: String
    public var createdAt: Date

    public init(id: String = UUID().uuidString.lowercased(), projectID: String, name: String, sha256: String, size: Int, contentType: String, createdBy: String, createdAt: Date = Date()) {
        self.id = id
        self.projectID = projectID
        self.name = name
        self.sha256 = sha256
        self.size = size
        self.contentType = contentType
        self.createdBy = createdBy
        self.createdAt = createdAt
    }

    enum CodingKeys: String, CodingKey {
        case id, name, sha256, size
        case projectID = "project_id"
        case contentType = "content_type"
        case createdBy = "created_by"
        case createdAt = "created_at"
    }
}

/// A file a job gets in its work dir, as it was when the job was submitted.
public struct JobFile: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "job_files"

    public var jobID: String
    public var fileID: String
    public var name: String
    public var sha256: String
    public var size: Int

    public init(jobID: String, fileID: String, name: String, sha256: String, size: Int) {
        self.jobID = jobID
        self.fileID = fileID
        self.name = name
        self.sha256 = sha256
        self.size = size
    }

    enum CodingKeys: String, CodingKey {
        case name, sha256, size
        case jobID = "job_id"
        case fileID = "file_id"
    }
}
