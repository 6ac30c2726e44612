import AgentOSStore
import Foundation
import PostgresNIO

extension PostgresStore {
    public func createSkill(projectID: String, name: String, content: SkillContent, author: String, now: Date) throws -> (Skill, SkillVersion) {
        try mappingConflict("a skill named \(name) already exists in this project") {
            try write { db in
                // Names differing only in case would read as one skill: the name, folded, is
                // locked until commit, so two servers cannot both find it free.
                try await db.lockName("skills:\(projectID)", name, logger: logger)
                let taken = try await db.scalar(Bool.self, """
                    SELECT EXISTS (SELECT 1 FROM skills WHERE project_id = \(projectID) AND lower(name) = lower(\(name)))
                    """, logger: logger) ?? false
                guard !taken else {
                    throw StoreError.conflict("a skill named \(name) already exists in this project (names are compared ignoring case)")
                }
                let skill = Skill(projectID: projectID, name: name, content: content, author: author, at: now)
                let version = content.version(1, of: skill.id, author: author, at: now)
                try await db.insert(skill, into: "skills", logger: logger)
                try await db.insert(version, into: "skill_versions", logger: logger)
                return (skill, version)
            }
        }
    }

    public func addSkillVersion(skillID: String, content: SkillContent, author: String, now: Date) throws -> (version: SkillVersion, created: Bool) {
        try write { db in
            guard let current = try await db.one(Skill.self, "SELECT * FROM skills WHERE id = \(skillID) FOR UPDATE", logger: logger) else {
                throw StoreError.notFound("skill")
            }
            let hash = content.contentHash
            if let existing = try await db.one(
                SkillVersion.self, "SELECT * FROM skill_versions WHERE skill_id = \(skillID) AND content_hash = \(hash)", logger: logger)
            {
                return (existing, false)
            }
            let skill = current.adding(content, at: now)
            let version = content.version(skill.latestVersion, of: skillID, author: author, at: now)
            try await db.update(skill, in: "skills", logger: logger)
            try await db.insert(version, into: "skill_versions", logger: logger)
            return (version, true)
        }
    }

    public func skills(projectID: String, updatedSince: Date?) throws -> [Skill] {
        try read { db in
            try await db.all(Skill.self, """
                SELECT * FROM skills WHERE project_id = \(projectID) AND (\(updatedSince)::timestamptz IS NULL OR updated_at >= \(updatedSince))
                ORDER BY name COLLATE "C"
                """, logger: logger)
        }
    }

    public func skill(projectID: String, name: String) throws -> Skill? {
        try read { db in try await db.one(Skill.self, "SELECT * FROM skills WHERE project_id = \(projectID) AND name = \(name)", logger: logger) }
    }

    public func skillVersions(skillID: String) throws -> [SkillVersion] {
        try read { db in
            try await db.all(SkillVersion.self, "SELECT * FROM skill_versions WHERE skill_id = \(skillID) ORDER BY version DESC", logger: logger)
        }
    }

    public func skillVersion(skillID: String, version: Int) throws -> SkillVersion? {
        try read { db in
            try await db.one(SkillVersion.self, "SELECT * FROM skill_versions WHERE skill_id = \(skillID) AND version = \(version)", logger: logger)
        }
    }
}
