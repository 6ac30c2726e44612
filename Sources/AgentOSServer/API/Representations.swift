import AgentOSAuth
import AgentOSStore
import AgentOSWire
import Foundation

/// How records look in API responses.
enum Representation {
    static func timestamp(_ date: Date?) -> JSONValue {
        guard let given = date else { return .null }
        // Whole milliseconds, rounded as the database rounds them, so a record reads the same
        // when it is created and when it is fetched again.
        let date = Date(timeIntervalSince1970: (given.timeIntervalSince1970 * 1000).rounded() / 1000 + 0.000_000_5)
        return .string(date.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted)))
    }

    /// Parses ISO 8601 with or without fractional seconds.
    static func parseTimestamp(_ text: String) -> Date? {
        (try? Date(text, strategy: .iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted)))
            ?? (try? Date(text, strategy: .iso8601))
            ?? ISO8601DateFormatter().date(from: text)
    }

    static func optional(_ text: String?) -> JSONValue { text.map(JSONValue.string) ?? .null }
    static func optional(_ number: Int?) -> JSONValue { number.map { .number(Double($0)) } ?? .null }

    static func user(_ user: User) -> JSONValue {
        [
            "id": .string(user.id), "email": .string(user.email), "name": .string(user.name),
            "role": .string(user.role.rawValue), "disabled": .bool(user.disabled),
            "created_at": timestamp(user.createdAt),
        ]
    }

    static func job(_ job: Job, projectName: String, files: [JobFile]?, warnings: [String] = []) -> JSONValue {
        var fields: [String: JSONValue] = [
            "id": .string(job.id),
            "project": .string(projectName),
            "status": .string(job.status.rawValue),
            "origin": .string(job.origin),
            "skill": optional(job.skill),
            "version": optional(job.skillVersion),
            "entrypoint": .string(job.entrypoint),
            "session_id": optional(job.sessionID),
            "inputs": .object(job.inputs),
            "target": .string(job.target.rawValue),
            "worker": optional(job.workerName),
            "worker_id": optional(job.workerID),
            "requested_worker": optional(job.requestedWorker),
            "labels": .array(job.labels.map(JSONValue.string)),
            "limits": [
                "timeout_s": .number(job.timeoutSeconds), "max_output_kb": .number(Double(job.maxOutputBytes / 1024)),
                "memory_mb": optional(job.memoryMB), "network": .bool(job.network),
            ],
            "priority": .number(Double(job.priority)),
            "attempts": .number(Double(job.attempts)),
            "max_attempts": .number(Double(job.maxAttempts)),
            "result": job.result ?? .null,
            "stdout": .string(job.stdout),
            "stderr": .string(job.stderr),
            "output_truncated": .bool(job.outputTruncated),
            "exit_code": optional(job.exitCode),
            "error": optional(job.error),
            "submitted_by": .string(job.submittedBy),
            "idempotency_key": optional(job.idempotencyKey),
            "created_at": timestamp(job.createdAt),
            "started_at": timestamp(job.startedAt),
            "finished_at": timestamp(job.finishedAt),
            "duration_ms": optional(job.durationMS),
        ]
        if job.origin == "local" {
            fields["client_run_id"] = optional(job.clientRunID)
            fields["device"] = optional(job.device)
        }
        if let files {
            fields["files"] = .array(files.map { ["id": .string($0.fileID), "name": .string($0.name), "sha256": .string($0.sha256), "size": .number(Double($0.size))] })
        }
        if !warnings.isEmpty { fields["warnings"] = .array(warnings.map(JSONValue.string)) }
        return .object(fields)
    }

    static func worker(_ worker: ConnectedWorker) -> JSONValue {
        [
            "id": .string(worker.workerID),
            "name": .string(worker.name),
            "kind": .string(worker.kind.rawValue),
            "owner_id": optional(worker.ownerID),
            "labels": .array(worker.labels.sorted().map(JSONValue.string)),
            "slots": .number(Double(worker.slots)),
            "running": .number(Double(worker.running.count)),
            "free_slots": .number(Double(worker.freeSlots)),
            "draining": .bool(worker.draining),
            "version": .string(worker.version),
            "connected_at": timestamp(worker.connectedAt),
            "last_seen_at": timestamp(worker.lastHeard),
        ]
    }

    static func personalToken(_ token: PersonalToken) -> JSONValue {
        [
            "id": .string(token.id), "name": .string(token.name), "prefix": .string(token.prefix),
            "created_at": timestamp(token.createdAt), "expires_at": timestamp(token.expiresAt),
            "last_used_at": timestamp(token.lastUsedAt), "revoked_at": timestamp(token.revokedAt),
            "revoked": .bool(token.revokedAt != nil),
        ]
    }

    static func workerToken(_ token: WorkerToken) -> JSONValue {
        [
            "id": .string(token.id), "name": .string(token.name),
            "labels": token.labels.map { .array($0.map(JSONValue.string)) } ?? .null,
            "created_at": timestamp(token.createdAt), "revoked_at": timestamp(token.revokedAt),
            "revoked": .bool(token.revokedAt != nil),
        ]
    }

    static func audit(_ entry: AuditEntry) -> JSONValue {
        [
            "seq": .number(Double(entry.seq ?? 0)), "at": timestamp(entry.at), "action": .string(entry.action),
            "actor_id": optional(entry.actorID), "actor_email": optional(entry.actorEmail), "target": optional(entry.target),
            "project_id": optional(entry.projectID), "detail": .object(entry.detail), "address": optional(entry.address),
        ]
    }

    static func member(_ user: User, role: String) -> JSONValue {
        ["user_id": .string(user.id), "email": .string(user.email), "name": .string(user.name), "role": .string(role)]
    }

    static func team(_ team: Team, role: TeamRole?, members: [(User, TeamRole)]?) -> JSONValue {
        var fields: [String: JSONValue] = [
            "id": .string(team.id), "name": .string(team.name), "role": optional(role?.rawValue),
            "created_by": .string(team.createdBy), "created_at": timestamp(team.createdAt),
        ]
        if let members { fields["members"] = .array(members.map { member($0.0, role: $0.1.rawValue) }) }
        return .object(fields)
    }

    static func project(_ project: Project, role: ProjectRole?, members: [(User, ProjectRole)]?) -> JSONValue {
        var fields: [String: JSONValue] = [
            "id": .string(project.id), "name": .string(project.name), "team_id": optional(project.teamID),
            "role": optional(role?.rawValue), "created_by": .string(project.createdBy), "created_at": timestamp(project.createdAt),
            "allow_network": .bool(project.allowNetwork),
        ]
        if let members { fields["members"] = .array(members.map { member($0.0, role: $0.1.rawValue) }) }
        return .object(fields)
    }

    static func skill(_ skill: Skill, project: Project, latest: SkillVersion? = nil) -> JSONValue {
        var fields: [String: JSONValue] = [
            "id": .string(skill.id), "project": .string(project.name), "name": .string(skill.name),
            "description": .string(skill.description), "latest_version": .number(Double(skill.latestVersion)),
            "created_by": .string(skill.createdBy), "created_at": timestamp(skill.createdAt), "updated_at": timestamp(skill.updatedAt),
        ]
        if let latest { fields["latest"] = skillVersion(latest, skill: skill) }
        return .object(fields)
    }

    static func skillVersion(_ version: SkillVersion, skill: Skill, created: Bool? = nil) -> JSONValue {
        var fields: [String: JSONValue] = [
            "skill": .string(skill.name), "version": .number(Double(version.version)), "description": .string(version.description),
            "code": .string(version.code), "entrypoint": .string(version.entrypoint), "requirements": .string(version.requirements),
            "input_schema": version.inputSchema ?? .null, "limits": version.limits ?? .object([:]),
            "content_hash": .string(version.contentHash), "author": .string(version.author), "created_at": timestamp(version.createdAt),
        ]
        if let created { fields["created"] = .bool(created) }
        return .object(fields)
    }

    /// A provider without its key: only whether one is set.
    static func provider(_ provider: Provider, project: Project) -> JSONValue {
        [
            "id": .string(provider.id), "project": .string(project.name), "name": .string(provider.name),
            "kind": .string(provider.kind), "base_url": .string(provider.baseURL),
            "models": .array(provider.models.map(JSONValue.string)), "has_api_key": .bool(provider.apiKeySealed.count > SecretBox.overhead),
            "created_by": .string(provider.createdBy), "created_at": timestamp(provider.createdAt), "updated_at": timestamp(provider.updatedAt),
        ]
    }

    static func agent(_ agent: Agent, project: Project) -> JSONValue {
        [
            "id": .string(agent.id), "project": .string(project.name), "name": .string(agent.name),
            "version": .number(Double(agent.version)), "provider": .string(agent.provider), "model": .string(agent.model),
            "system_prompt": .string(agent.systemPrompt), "skills": .array(agent.skills.map(JSONValue.string)),
            "params": .object(agent.params), "updated_by": .string(agent.updatedBy),
            "created_at": timestamp(agent.createdAt), "updated_at": timestamp(agent.updatedAt),
        ]
    }

    static func agentVersion(_ version: AgentVersion) -> JSONValue {
        [
            "version": .number(Double(version.version)), "provider": .string(version.provider), "model": .string(version.model),
            "system_prompt": .string(version.systemPrompt), "skills": .array(version.skills.map(JSONValue.string)),
            "params": .object(version.params), "updated_by": .string(version.updatedBy), "created_at": timestamp(version.createdAt),
        ]
    }

    static func session(_ session: ChatSession, project: Project) -> JSONValue {
        [
            "id": .string(session.id), "project": .string(project.name), "title": .string(session.title),
            "agent": optional(session.agent), "created_by": .string(session.createdBy),
            "created_at": timestamp(session.createdAt), "updated_at": timestamp(session.updatedAt),
        ]
    }

    static func message(_ message: ChatMessage) -> JSONValue {
        [
            "id": .string(message.id), "session_id": .string(message.sessionID), "seq": .number(Double(message.seq)),
            "role": .string(message.role.rawValue), "content": .string(message.content), "job_id": optional(message.jobID),
            "created_by": .string(message.createdBy), "created_at": timestamp(message.createdAt),
        ]
    }

    static func file(_ file: StoredFile, project: Project) -> JSONValue {
        [
            "id": .string(file.id), "project": .string(project.name), "name": .string(file.name), "sha256": .string(file.sha256),
            "size": .number(Double(file.size)), "content_type": .string(file.contentType),
            "created_by": .string(file.createdBy), "created_at": timestamp(file.createdAt),
        ]
    }
}
