import Foundation
import GRDB

extension SQLiteStore {
    public func createSkill(projectID: String, name: String, content: SkillContent, author: String, now: Date) throws -> (Skill, SkillVersion) {
        try StoreError.mapping("a skill named \(name) already exists in this project") {
            try writer.write { db in
                // Names differing only in case would read as one skill.
                let taken = try Skill.filter(sql: "project_id = ? AND name = ? COLLATE NOCASE", arguments: [projectID, name]).fetchCount(db)
                guard taken == 0 else {
                    throw StoreError.conflict("a skill named \(name) already exists in this project (names are compared ignoring case)")
                }
                let skill = try Skill(projectID: projectID, name: name, content: content, author: author, at: now).inserted(db)
                let version = try content.version(1, of: skill.id, author: author, at: now).inserted(db)
                return (skill, version)
            }
        }
    }

    public func addSkillVersion(skillID: String, content: SkillContent, author: String, now: Date) throws -> (version: SkillVersion, created: Bool) {
        try writer.write { db in
            guard let current = try Skill.fetchOne(db, key: skillID) else { throw StoreError.notFound("skill") }
            let hash = content.contentHash
            if let existing = try SkillVersion.filter(Column("skill_id") == skillID && Column("content_hash") == hash).fetchOne(db) {
                return (existing, false)
            }
            let skill = current.adding(content, at: now)
            try skill.update(db)
            let version = try content.version(skill.latestVersion, of: skillID, author: author, at: now).inserted(db)
            return (version, true)
        }
    }


    public func skills(projectID: String, updatedSince: Date?) throws -> [Skill] {
        try writer.read { db in
            var request = Skill.filter(Column("project_id") == projectID)
            if let updatedSince { request = request.filter(Column("updated_at") >= updatedSince) }
            return try request.order(Column("name")).fetchAll(db)
        }
    }

    public func skill(projectID: String, name: String) throws -> Skill? {
        try writer.read { db in try Skill.filter(Column("project_id") == projectID && Column("name") == name).fetchOne(db) }
    }

    public func skillVersions(skillID: String) throws -> [SkillVersion] {
        try writer.read { db in try SkillVersion.filter(Column("skill_id") == skillID).order(Column("version").desc).fetchAll(db) }
    }

    public func skillVersion(skillID: String, version: Int) throws -> SkillVersion? {
        try writer.read { db in try SkillVersion.fetchOne(db, key: ["skill_id": skillID, "version": version]) }
    }
}
