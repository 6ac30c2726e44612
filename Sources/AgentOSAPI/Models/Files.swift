import AgentOSWire
import Foundation

extension Schemas {
    /// A stored file's metadata (its bytes at `GET /files/{file}/content`).
    public struct File: APISchema, Equatable {
        public static var schemaName: String { "File" }

        public var id: String
        public var project: String
        public var name: String
        public var sha256: String
        public var size: Int
        public var contentType: String
        public var createdBy: String
        public var createdAt: Date

        public init(
            id: String, project: String, name: String, sha256: String, size: Int, contentType: String, createdBy: String,
            createdAt: Date
        ) {
            self.id = id
            self.project = project
            self.name = name
            self.sha256 = sha256
            self.size = size
            self.contentType = contentType
            self.createdBy = createdBy
            self.createdAt = createdAt
        }

        enum CodingKeys: String, CodingKey {
            case id
            case project
            case name
            case sha256
            case size
            case contentType = "content_type"
            case createdBy = "created_by"
            case createdAt = "created_at"
        }
    }

    /// `GET /projects/{project}/files`, newest first.
    public struct FileList: APISchema, Equatable {
        public var files: [File]
        @Nullable public var nextCursor: String?

        public init(
            files: [File], nextCursor: String? = nil
        ) {
            self.files = files
            self.nextCursor = nextCursor
        }

        enum CodingKeys: String, CodingKey {
            case files
            case nextCursor = "next_cursor"
        }
    }
}
