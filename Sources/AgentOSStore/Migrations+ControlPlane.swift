import GRDB

extension SQLiteStore {
    /// v2: sessions and tokens, teams, the skill registry, model configuration, chat
    /// sessions, files, run records and the audit log.
    static func controlPlane(_ db: Database) throws {
        // Login sessions: one per login; its refresh tokens form one rotation family.
        try db.create(table: "auth_sessions") { t in
            t.primaryKey("id", .text)
            t.column("user_id", .text).notNull().references("users", onDelete: .cascade)
            t.column("created_at", .datetime).notNull()
            t.column("expires_at", .datetime).notNull()
            t.column("last_used_at", .datetime).notNull()
            t.column("revoked_at", .datetime)
            t.column("revoked_reason", .text)
            t.column("address", .text)
        }
        try db.create(table: "refresh_tokens") { t in
            t.primaryKey("id", .text)
            t.column("session_id", .text).notNull().references("auth_sessions", onDelete: .cascade)
            t.column("token_hash", .text).notNull().unique()
            t.column("created_at", .datetime).notNull()
            t.column("used_at", .datetime)
        }
        try db.create(table: "personal_tokens") { t in
            t.primaryKey("id", .text)
            t.column("user_id", .text).notNull().references("users", onDelete: .cascade)
            t.column("name", .text).notNull()
            t.column("token_hash", .text).notNull().unique()
            t.column("prefix", .text).notNull()
            t.column("created_at", .datetime).notNull()
            t.column("expires_at", .datetime)
            t.column("last_used_at", .datetime)
            t.column("revoked_at", .datetime)
        }
        try db.alter(table: "worker_tokens") { t in
            t.add(column: "labels", .jsonText)
        }

        try db.create(table: "teams") { t in
            t.primaryKey("id", .text)
            t.column("name", .text).notNull().unique().collate(.nocase)
            t.column("created_by", .text).notNull().references("users")
            t.column("created_at", .datetime).notNull()
        }
        try db.create(table: "team_members") { t in
            t.column("team_id", .text).notNull().references("teams", onDelete: .cascade)
            t.column("user_id", .text).notNull().references("users", onDelete: .cascade)
            t.column("role", .text).notNull()
            t.primaryKey(["team_id", "user_id"])
        }
        try db.alter(table: "projects") { t in
            t.add(column: "team_id", .text).references("teams", onDelete: .setNull)
        }

        try db.create(table: "skills") { t in
            t.primaryKey("id", .text)
            t.column("project_id", .text).notNull().references("projects", onDelete: .cascade)
            t.column("name", .text).notNull()
            t.column("description", .text).notNull()
            t.column("latest_version", .integer).notNull()
            t.column("created_by", .text).notNull()
            t.column("created_at", .datetime).notNull()
            t.column("updated_at", .datetime).notNull()
            t.uniqueKey(["project_id", "name"])
        }
        try db.create(table: "skill_versions") { t in
            t.column("skill_id", .text).notNull().references("skills", onDelete: .cascade)
            t.column("version", .integer).notNull()
            t.column("description", .text).notNull()
            t.column("code", .text).notNull()
            t.column("entrypoint", .text).notNull()
            t.column("requirements", .text).notNull()
            t.column("input_schema", .jsonText)
            t.column("limits", .jsonText)
            t.column("content_hash", .text).notNull()
            t.column("author", .text).notNull()
            t.column("created_at", .datetime).notNull()
            t.primaryKey(["skill_id", "version"])
            t.uniqueKey(["skill_id", "content_hash"])
        }

        try db.create(table: "providers") { t in
            t.primaryKey("id", .text)
            t.column("project_id", .text).notNull().references("projects", onDelete: .cascade)
            t.column("name", .text).notNull()
            t.column("kind", .text).notNull()
            t.column("base_url", .text).notNull()
            t.column("models", .jsonText).notNull()
            t.column("api_key_sealed", .blob).notNull()
            t.column("created_by", .text).notNull()
            t.column("created_at", .datetime).notNull()
            t.column("updated_at", .datetime).notNull()
            t.uniqueKey(["project_id", "name"])
        }
        try db.create(table: "agents") { t in
            t.primaryKey("id", .text)
            t.column("project_id", .text).notNull().references("projects", onDelete: .cascade)
            t.column("name", .text).notNull()
            t.column("version", .integer).notNull()
            t.column("provider", .text).notNull()
            t.column("model", .text).notNull()
            t.column("system_prompt", .text).notNull()
            t.column("skills", .jsonText).notNull()
            t.column("params", .jsonText).notNull()
            t.column("updated_by", .text).notNull()
            t.column("created_at", .datetime).notNull()
            t.column("updated_at", .datetime).notNull()
            t.uniqueKey(["project_id", "name"])
        }
        try db.create(table: "agent_versions") { t in
            t.column("agent_id", .text).notNull().references("agents", onDelete: .cascade)
            t.column("version", .integer).notNull()
            t.column("provider", .text).notNull()
            t.column("model", .text).notNull()
            t.column("system_prompt", .text).notNull()
            t.column("skills", .jsonText).notNull()
            t.column("params", .jsonText).notNull()
            t.column("updated_by", .text).notNull()
            t.column("created_at", .datetime).notNull()
            t.primaryKey(["agent_id", "version"])
        }

        try db.create(table: "chat_sessions") { t in
            t.primaryKey("id", .text)
            t.column("project_id", .text).notNull().references("projects", onDelete: .cascade)
            t.column("title", .text).notNull()
            t.column("agent", .text)
            t.column("created_by", .text).notNull()
            t.column("created_at", .datetime).notNull()
            t.column("updated_at", .datetime).notNull()
        }
        try db.create(index: "chat_sessions_project", on: "chat_sessions", columns: ["project_id", "updated_at"])
        try db.create(table: "chat_messages") { t in
            t.primaryKey("id", .text)
            t.column("session_id", .text).notNull().references("chat_sessions", onDelete: .cascade)
            t.column("seq", .integer).notNull()
            t.column("role", .text).notNull()
            t.column("content", .text).notNull()
            t.column("job_id", .text)
            t.column("created_by", .text).notNull()
            t.column("created_at", .datetime).notNull()
            t.uniqueKey(["session_id", "seq"])
        }

        try db.create(table: "files") { t in
            t.primaryKey("id", .text)
            t.column("project_id", .text).notNull().references("projects", onDelete: .cascade)
            t.column("name", .text).notNull()
            t.column("sha256", .text).notNull()
            t.column("size", .integer).notNull()
            t.column("content_type", .text).notNull()
            t.column("created_by", .text).notNull()
            t.column("created_at", .datetime).notNull()
        }
        try db.create(index: "files_project", on: "files", columns: ["project_id", "created_at"])
        try db.create(index: "files_sha256", on: "files", columns: ["sha256"])
        try db.create(table: "job_files") { t in
            t.column("job_id", .text).notNull().references("jobs", onDelete: .cascade)
            t.column("file_id", .text).notNull()
            t.column("name", .text).notNull()
            t.column("sha256", .text).notNull()
            t.column("size", .integer).notNull()
            t.primaryKey(["job_id", "file_id"])
        }

        try db.alter(table: "jobs") { t in
            t.add(column: "skill", .text)
            t.add(column: "skill_version", .integer)
            t.add(column: "entrypoint", .text).notNull().defaults(to: "main")
            t.add(column: "requirements", .text).notNull().defaults(to: "")
            t.add(column: "memory_mb", .integer)
            t.add(column: "network", .boolean).notNull().defaults(to: false)
            t.add(column: "session_id", .text)
            t.add(column: "client_run_id", .text)
            t.add(column: "device", .text)
        }
        // Run records are idempotent per project by the id the desktop made.
        try db.create(
            index: "jobs_client_run", on: "jobs", columns: ["project_id", "client_run_id"],
            options: .unique, condition: Column("client_run_id") != nil)

        try db.create(table: "audit_log") { t in
            t.autoIncrementedPrimaryKey("seq")
            t.column("at", .datetime).notNull()
            t.column("actor_id", .text)
            t.column("actor_email", .text)
            t.column("action", .text).notNull()
            t.column("target", .text)
            t.column("project_id", .text)
            t.column("detail", .jsonText).notNull()
            t.column("address", .text)
        }
        try db.create(index: "audit_action", on: "audit_log", columns: ["action", "seq"])
    }
}
