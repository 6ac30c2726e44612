import AgentOSWire
import Foundation

extension Schemas {
    /// A job's limits as the API shows them.
    public struct Limits: APISchema, Equatable {
        public var timeoutSeconds: Double
        public var maxOutputKB: Int
        @Nullable public var memoryMB: Int?
        public var network: Bool

        public init(
            timeoutSeconds: Double, maxOutputKB: Int, memoryMB: Int? = nil, network: Bool
        ) {
            self.timeoutSeconds = timeoutSeconds
            self.maxOutputKB = maxOutputKB
            self.memoryMB = memoryMB
            self.network = network
        }

        enum CodingKeys: String, CodingKey {
            case timeoutSeconds = "timeout_s"
            case maxOutputKB = "max_output_kb"
            case memoryMB = "memory_mb"
            case network
        }
    }

    /// Limits asked for at submit or in a skill; each absent one takes its default.
    public struct LimitsInput: APISchema, Equatable {
        public static var schemaName: String { "LimitsInput" }

        public var timeoutSeconds: Double?
        public var maxOutputKB: Int?
        public var memoryMB: Int?
        public var network: Bool?

        public init(
            timeoutSeconds: Double? = nil, maxOutputKB: Int? = nil, memoryMB: Int? = nil, network: Bool? = nil
        ) {
            self.timeoutSeconds = timeoutSeconds
            self.maxOutputKB = maxOutputKB
            self.memoryMB = memoryMB
            self.network = network
        }

        enum CodingKeys: String, CodingKey {
            case timeoutSeconds = "timeout_s"
            case maxOutputKB = "max_output_kb"
            case memoryMB = "memory_mb"
            case network
        }
    }

    /// One immutable version of a skill.
    public struct SkillVersion: APISchema, Equatable {
        public static var fieldSchemas: [String: JSONValue] {
            [
                "created": ["description": "In the answer to a new version: false when the content equals the latest version, which is returned instead"],
            ]
        }

        public var skill: String
        public var version: Int
        public var description: String
        /// The Python source; not in version lists.
        public var code: String?
        public var entrypoint: String
        public var requirements: String
        @Nullable public var inputSchema: JSONValue?
        public var limits: JSONValue
        public var contentHash: String
        public var author: String
        public var createdAt: Date
        public var created: Bool?

        public init(
            skill: String, version: Int, description: String, code: String? = nil, entrypoint: String,
            requirements: String, inputSchema: JSONValue? = nil, limits: JSONValue, contentHash: String, author: String,
            createdAt: Date, created: Bool? = nil
        ) {
            self.skill = skill
            self.version = version
            self.description = description
            self.code = code
            self.entrypoint = entrypoint
            self.requirements = requirements
            self.inputSchema = inputSchema
            self.limits = limits
            self.contentHash = contentHash
            self.author = author
            self.createdAt = createdAt
            self.created = created
        }

        enum CodingKeys: String, CodingKey {
            case skill
            case version
            case description
            case code
            case entrypoint
            case requirements
            case inputSchema = "input_schema"
            case limits
            case contentHash = "content_hash"
            case author
            case createdAt = "created_at"
            case created
        }
    }

    /// `GET /projects/{project}/skills/{skill}/versions`.
    public struct SkillVersionList: APISchema, Equatable {
        public var versions: [SkillVersion]

        public init(
            versions: [SkillVersion]
        ) {
            self.versions = versions
        }
    }

    /// A skill and, in a single-skill answer, its latest version.
    public struct Skill: APISchema, Equatable {
        public var id: String
        public var project: String
        public var name: String
        public var description: String
        public var latestVersion: Int
        public var createdBy: String
        public var createdAt: Date
        public var updatedAt: Date
        public var latest: SkillVersion?

        public init(
            id: String, project: String, name: String, description: String, latestVersion: Int, createdBy: String,
            createdAt: Date, updatedAt: Date, latest: SkillVersion? = nil
        ) {
            self.id = id
            self.project = project
            self.name = name
            self.description = description
            self.latestVersion = latestVersion
            self.createdBy = createdBy
            self.createdAt = createdAt
            self.updatedAt = updatedAt
            self.latest = latest
        }

        enum CodingKeys: String, CodingKey {
            case id
            case project
            case name
            case description
            case latestVersion = "latest_version"
            case createdBy = "created_by"
            case createdAt = "created_at"
            case updatedAt = "updated_at"
            case latest
        }
    }

    /// `GET /projects/{project}/skills`.
    public struct SkillList: APISchema, Equatable {
        public var skills: [Skill]

        public init(
            skills: [Skill]
        ) {
            self.skills = skills
        }
    }

    /// A skill's content: `POST /projects/{project}/skills` (with `name`) and `POST …/versions`.
    public struct SkillInput: APISchema, Equatable {
        public var name: String?
        public var description: String?
        public var code: String
        public var entrypoint: String?
        public var requirements: Requirements?
        public var inputSchema: JSONValue?
        public var limits: LimitsInput?

        public init(
            name: String? = nil, description: String? = nil, code: String, entrypoint: String? = nil,
            requirements: Requirements? = nil, inputSchema: JSONValue? = nil, limits: LimitsInput? = nil
        ) {
            self.name = name
            self.description = description
            self.code = code
            self.entrypoint = entrypoint
            self.requirements = requirements
            self.inputSchema = inputSchema
            self.limits = limits
        }

        enum CodingKeys: String, CodingKey {
            case name
            case description
            case code
            case entrypoint
            case requirements
            case inputSchema = "input_schema"
            case limits
        }
    }
}
