import AgentOSAuth
import AgentOSWire
import Foundation
import GRDB

/// A named skill of a project; its code lives in numbered, immutable versions.
public struct Skill: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "skills"

    public var id: String
    public var projectID: String
    public var name: String
    /// The latest version's description.
    public var description: String
    public var latestVersion: Int
    public var createdBy: String
    public var createdAt: Date
    public var updatedAt: Date

    /// A new skill whose version 1 is `content`.
    public init(projectID: String, name: String, content: SkillContent, author: String, at now: Date) {
        self.id = UUID().uuidString.lowercased()
        self.projectID = projectID
        self.name = name
        self.description = content.description
        self.latestVersion = 1
        self.createdBy = author
        self.createdAt = now
        self.updatedAt = now
    }

    /// The skill once `content` is its next version.
    public func adding(_ content: SkillContent, at now: Date) -> Skill {
        var skill = self
        skill.latestVersion += 1
        skill.description = content.description
        skill.updatedAt = now
        return skill
    }

    enum CodingKeys: String, CodingKey {
        case id, name, description
        case projectID = "project_id"
        case latestVersion = "latest_version"
        case createdBy = "created_by"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
    }
}

/// What a skill version holds; its hash decides whether a post is new content.
public struct SkillContent: Sendable, Equatable {
    public var description: String
    public var code: String
    public var entrypoint: String
    public var requirements: String
    public var inputSchema: JSONValue?
    public var limits: JSONValue?

    public init(description: String, code: String, entrypoint: String, requirements: String, inputSchema: JSONValue?, limits: JSONValue?) {
        self.description = description
        self.code = code
        self.entrypoint = entrypoint
        self.requirements = requirements
        self.inputSchema = inputSchema
        self.limits = limits
    }

    /// SHA-256 over a canonical encoding of every field.
    public var contentHash: String {
        let canonical: JSONValue = [
            "description": .string(description), "code": .string(code), "entrypoint": .string(entrypoint),
            "requirements": .string(requirements), "input_schema": inputSchema ?? .null, "limits": limits ?? .null,
        ]
        return ContentHash.sha256Hex(canonical.encoded())
    }

    /// This content as version `number` of skill `skillID`.
    public func version(_ number: Int, of skillID: String, author: String, at now: Date) -> SkillVersion {
        SkillVersion(
            skillID: skillID, version: number, description: description, code: code, entrypoint: entrypoint,
            requirements: requirements, inputSchema: inputSchema, limits: limits, contentHash: contentHash, author: author,
            createdAt: now)
    }
}

/// One immutable version of a skill.
public struct SkillVersion: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "skill_versions"

    public var skillID: String
    public var version: Int
    public var description: String
    public var code: String
    public var entrypoint: String
    public var requirements: String
    public var inputSchema: JSONValue?
    public var limits: JSONValue?
    public var contentHash: String
    /// User id of who posted it.
    public var author: String
    public var createdAt: Date

    public var content: SkillContent {
        SkillContent(description: description, code: code, entrypoint: entrypoint, requirements: requirements, inputSchema: inputSchema, limits: limits)
    }

    enum CodingKeys: String, CodingKey {
        case version, description, code, entrypoint, requirements, limits, author
        case skillID = "skill_id"
        case inputSchema = "input_schema"
        case contentHash = "content_hash"
        case createdAt = "created_at"
    }
}
