import AgentOSAPI
import AgentOSAuth
import AgentOSStore
import AgentOSWire
import Foundation

// How the store's records look in API answers: each API type built from its record.

extension Schemas.User {
    init(_ user: User) {
        self.init(id: user.id, email: user.email, name: user.name, role: user.role, disabled: user.disabled, createdAt: user.createdAt)
    }
}

extension Schemas.Job {
    /// A job as `GET /jobs/{id}` shows it; `files` only where one job is answered, and
    /// `withOutput: false` for list items, which leave out stdout and stderr.
    init(_ job: Job, projectName: String, files: [JobFile]?, warnings: [String] = [], withOutput: Bool = true) {
        self.init(
            id: job.id, project: projectName, status: job.status, origin: JobOrigin(rawValue: job.origin) ?? .server,
            skill: job.skill, version: job.skillVersion, entrypoint: job.entrypoint, sessionID: job.sessionID, inputs: job.inputs,
            target: job.target, worker: job.workerName, workerID: job.workerID, requestedWorker: job.requestedWorker,
            labels: job.labels, dirs: job.dirs,
            limits: Schemas.Limits(
                timeoutSeconds: job.timeoutSeconds, maxOutputKB: job.maxOutputBytes / 1024, memoryMB: job.memoryMB, network: job.network),
            priority: job.priority, attempts: job.attempts, maxAttempts: job.maxAttempts, result: job.result ?? .null,
            stdout: withOutput ? job.stdout : nil, stderr: withOutput ? job.stderr : nil, outputTruncated: job.outputTruncated,
            exitCode: job.exitCode, error: job.error, submittedBy: job.submittedBy, idempotencyKey: job.idempotencyKey,
            createdAt: job.createdAt, startedAt: job.startedAt, finishedAt: job.finishedAt, durationMS: job.durationMS,
            clientRunID: job.origin == JobOrigin.local.rawValue ? job.clientRunID : nil,
            device: job.origin == JobOrigin.local.rawValue ? job.device : nil,
            files: files?.map { Schemas.JobFileRef(id: $0.fileID, name: $0.name, sha256: $0.sha256, size: $0.size) },
            warnings: warnings.isEmpty ? nil : warnings)
    }
}

extension Schemas.Worker {
    init(_ worker: ConnectedWorker) {
        let token: String? = if case .workerToken(let id) = worker.credential { id } else { nil }
        self.init(
            id: worker.workerID, name: worker.name, kind: worker.kind, ownerID: worker.ownerID, labels: worker.labels.sorted(),
            slots: worker.slots, running: worker.running.count, freeSlots: worker.freeSlots, draining: worker.draining,
            version: worker.version, connectedAt: worker.connectedAt, lastSeenAt: worker.lastHeard,
            workerTokenID: token, folders: worker.kind == .private ? worker.folders.sorted() : nil)
    }
}

extension Schemas.PersonalToken {
    init(_ token: PersonalToken, secret: String? = nil) {
        self.init(
            id: token.id, name: token.name, prefix: token.prefix, token: secret, createdAt: token.createdAt, expiresAt: token.expiresAt,
            lastUsedAt: token.lastUsedAt, revokedAt: token.revokedAt, revoked: token.revokedAt != nil)
    }
}

extension Schemas.WorkerToken {
    init(_ token: WorkerToken, secret: String? = nil) {
        self.init(
            id: token.id, name: token.name, labels: token.labels, token: secret, createdAt: token.createdAt, revokedAt: token.revokedAt,
            revoked: token.revokedAt != nil)
    }
}

extension Schemas.AuditEntry {
    init(_ entry: AuditEntry) {
        self.init(
            seq: Int(entry.seq ?? 0), at: entry.at, action: entry.action, actorID: entry.actorID, actorEmail: entry.actorEmail,
            target: entry.target, projectID: entry.projectID, detail: entry.detail, address: entry.address)
    }
}

extension Schemas.Member {
    init(_ user: User, role: String) {
        self.init(userID: user.id, email: user.email, name: user.name, role: role)
    }
}

extension Schemas.Team {
    init(_ team: Team, role: TeamRole?, members: [(User, TeamRole)]?) {
        self.init(
            id: team.id, name: team.name, role: role, createdBy: team.createdBy, createdAt: team.createdAt,
            members: members?.map { Schemas.Member($0.0, role: $0.1.rawValue) })
    }
}

extension Schemas.Project {
    init(_ project: Project, role: ProjectRole?, members: [(User, ProjectRole)]?) {
        self.init(
            id: project.id, name: project.name, teamID: project.teamID, role: role, createdBy: project.createdBy,
            createdAt: project.createdAt, allowNetwork: project.allowNetwork,
            members: members?.map { Schemas.Member($0.0, role: $0.1.rawValue) })
    }
}

extension Schemas.Skill {
    init(_ skill: Skill, project: Project, latest: SkillVersion? = nil) {
        self.init(
            id: skill.id, project: project.name, name: skill.name, description: skill.description, latestVersion: skill.latestVersion,
            createdBy: skill.createdBy, createdAt: skill.createdAt, updatedAt: skill.updatedAt,
            latest: latest.map { Schemas.SkillVersion($0, skill: skill) })
    }
}

extension Schemas.SkillVersion {
    init(_ version: SkillVersion, skill: Skill, created: Bool? = nil) {
        self.init(
            skill: skill.name, version: version.version, description: version.description, code: version.code,
            entrypoint: version.entrypoint, requirements: version.requirements, inputSchema: version.inputSchema,
            limits: version.limits ?? .object([:]), contentHash: version.contentHash, author: version.author,
            createdAt: version.createdAt, created: created)
    }
}

extension Schemas.Provider {
    /// A provider without its key: only whether one is set.
    init(_ provider: Provider, project: Project) {
        self.init(
            id: provider.id, project: project.name, name: provider.name, kind: provider.kind, baseURL: provider.baseURL,
            models: provider.models, hasAPIKey: provider.apiKeySealed.count > SecretBox.overhead, createdBy: provider.createdBy,
            createdAt: provider.createdAt, updatedAt: provider.updatedAt)
    }
}

extension Schemas.Agent {
    init(_ agent: Agent, project: Project) {
        self.init(
            id: agent.id, project: project.name, name: agent.name, version: agent.version, provider: agent.provider,
            model: agent.model, systemPrompt: agent.systemPrompt, skills: agent.skills, params: agent.params,
            updatedBy: agent.updatedBy, createdAt: agent.createdAt, updatedAt: agent.updatedAt)
    }
}

extension Schemas.AgentVersion {
    init(_ version: AgentVersion) {
        self.init(
            version: version.version, provider: version.provider, model: version.model, systemPrompt: version.systemPrompt,
            skills: version.skills, params: version.params, updatedBy: version.updatedBy, createdAt: version.createdAt)
    }
}

extension Schemas.Session {
    init(_ session: ChatSession, project: Project) {
        self.init(
            id: session.id, project: project.name, title: session.title, agent: session.agent, createdBy: session.createdBy,
            createdAt: session.createdAt, updatedAt: session.updatedAt)
    }
}

extension Schemas.Message {
    init(_ message: ChatMessage) {
        self.init(
            id: message.id, sessionID: message.sessionID, seq: message.seq, role: message.role, content: message.content,
            jobID: message.jobID, createdBy: message.createdBy, createdAt: message.createdAt)
    }
}

extension Schemas.File {
    init(_ file: StoredFile, project: Project) {
        self.init(
            id: file.id, project: project.name, name: file.name, sha256: file.sha256, size: file.size, contentType: file.contentType,
            createdBy: file.createdBy, createdAt: file.createdAt)
    }
}
