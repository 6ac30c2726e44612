import Foundation
import GRDB

extension AppStore {
    /// Creates a skill with `content` as version 1; `conflict` when the name is taken.
    public func createSkill(projectID: String, name: String, content: SkillContent, author: String, now: Date = Date()) throws -> (Skill, SkillVersion) {
        try StoreError.mapping("a skill named \(name) already exists in this project") {
            try writer.write { db in
                // Names differing only in case would read as one skill.
                let taken = try Skill.filter(sql: "project_id = ? AND name = ? COLLATE NOCASE", arguments: [projectID, name]).fetchCount(db)
                guard taken == 0 else {
                    throw StoreError.conflict("a skill named \(name) already exists in this project (names are compared ignoring case)")
                }
                let skill = try Skill(
                    id: UUID().uuidString.lowercased(), projectID: projectID, name: name, description: content.description,
                    latestVersion: 1, createdBy: author, createdAt: now, updatedAt: now
                ).inserted(db)
                let version = try Self.newVersion(skillID: skill.id, number: 1, content: content, author: author, now: now).inserted(db)
                return (skill, version)
            }
        }
    }

    /// Adds a version to a skill. Content identical to an existing version returns that
    /// version and `created == false`; versions are never changed.
    public func addSkillVersion(skillID: String, content: SkillContent, author: String, now: Date = Date()) throws -> (version: SkillVersion, created: Bool) {
        try writer.write { db in
            guard var skill = try Skill.fetchOne(db, key: skillID) else { throw StoreError.notFound("skill") }
            let hash = content.contentHash
            if let existing = try SkillVersion.filter(Column("skill_id") == skillID && Column("content_hash") == hash).fetchOne(db) {
                return (existing, false)
            }
            skill.latestVersion += 1
            skill.description = content.description
            skill.updatedAt = now
            try skill.update(db)
            let version = try Self.newVersion(skillID: skillID, number: skill.latestVersion, content: content, author: author, now: now).inserted(db)
            return (version, true)
        }
    }

    private static func newVersion(skillID: String, number: Int, content: SkillContent, author: String, now: Date) -> SkillVersion {
        SkillVersion(
            skillID: skillID, version: number, description: content.description, code: content.code,
            entrypoint: content.entrypoint, requirements: content.requirements, inputSchema: content.inputSchema,
            limits: content.limits, contentHash: content.contentHash, author: author, createdAt: now)
    }

    /// A project's skills, by name.
    /// The project's skills by name; with `updatedSince`, only those changed (made, or given
    /// a version) at or after that time.
    public func skills(projectID: String, updatedSince: Date? = nil) throws -> [Skill] {
        try writer.read { db in
            var request = Skill.filter(Column("project_id") == projectID)
            if let updatedSince { request = request.filter(Column("updated_at") >= updatedSince) }
            return try request.order(Column("name")).fetchAll(db)
        }
    }

    /// The project's skill with this name.
    public func skill(projectID: String, name: String) throws -> Skill? {
        try writer.read { db in try Skill.filter(Column("project_id") == projectID && Column("name") == name).fetchOne(db) }
    }

    /// A skill's versions, newest first.
    public func skillVersions(skillID: String) throws -> [SkillVersion] {
        try writer.read { db in try SkillVersion.filter(Column("skill_id") == skillID).order(Column("version").desc).fetchAll(db) }
    }

    /// One version of a skill.
    public func skillVersion(skillID: String, version: Int) throws -> SkillVersion? {
        try writer.read { db in try SkillVersion.fetchOne(db, key: ["skill_id": skillID, "version": version]) }
    }
}
