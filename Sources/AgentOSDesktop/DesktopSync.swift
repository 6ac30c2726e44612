import AgentOSAPI
import AgentOSClient
import AgentOSWire
import Foundation

/// `agentos desktop sync`: pulls the account's projects, every skill version the desktop
/// lacks and the agents' configurations, asking only for what changed since the last sync.
///
/// Skills are listed with `updated_since` (the newest `updated_at` the last sync saw, less
/// `overlap`, which covers a change committed a moment after a later one); versions are
/// immutable and numbered 1…latest, so only the numbers not held are fetched, one request
/// each. Provider keys are never fetched: a run that needs one reveals it at run time.
public struct DesktopSync: Sendable {
    /// How far back of its cursor each sync looks again.
    public static let overlap: TimeInterval = 60

    public let store: DesktopStore
    public let client: GatewayClient
    public let account: Account

    public init(store: DesktopStore, client: GatewayClient, account: Account) {
        self.store = store
        self.client = client
        self.account = account
    }

    /// What a sync did.
    public struct Report: Sendable, Equatable, Codable {
        /// Projects synced.
        public var projects: [String] = []
        /// Skill versions fetched, as `project/skill@version`.
        public var fetchedVersions: [String] = []
        /// Agents whose configuration changed.
        public var updatedAgents: [String] = []
        /// HTTP requests made to pull (the push's are not counted).
        public var requests = 0

        enum CodingKeys: String, CodingKey {
            case projects
            case fetchedVersions = "fetched_versions"
            case updatedAgents = "updated_agents"
            case requests
        }
    }

    /// Pulls every project the account is a member of, or only `project` (a name or an id;
    /// an admin may name any).
    public func pull(project: String? = nil, now: Date = Date()) async throws -> Report {
        var report = Report()
        let projects: [Schemas.Project]
        if let project {
            projects = [try await get("/api/v1/projects/\(project.pathEscaped)", as: Schemas.Project.self, report: &report)]
        } else {
            // An admin sees every project of the server; a desktop takes its own (a role in them).
            projects = try await get("/api/v1/projects", as: Schemas.ProjectList.self, report: &report).projects.filter { $0.role != nil }
        }
        try store.saveProjects(
            projects.map { LocalProject(
                account: account.key, id: $0.id, name: $0.name, role: $0.role?.rawValue, allowNetwork: $0.allowNetwork, accessible: true,
                syncedAt: now) },
            account: account, complete: project == nil)
        for project in projects {
            try await pullSkills(of: project, report: &report, now: now)
            try await pullAgents(of: project, report: &report)
            report.projects.append(project.name)
        }
        return report
    }

    private func pullSkills(of project: Schemas.Project, report: inout Report, now: Date) async throws {
        let cursor = try store.cursor(account: account, projectID: project.id, kind: "skills")
        let skills = try await get(
            "/api/v1/projects/\(project.id.pathEscaped)/skills", query: since(cursor), as: Schemas.SkillList.self, report: &report
        ).skills
        for skill in skills {
            let held = try store.heldVersions(account: account, projectID: project.id, skill: skill.name)
            guard skill.latestVersion >= 1 else { continue }
            for number in 1...skill.latestVersion where !held.contains(number) {
                let version = try await get(
                    "/api/v1/projects/\(project.id.pathEscaped)/skills/\(skill.name.pathEscaped)/versions/\(number)",
                    as: Schemas.SkillVersion.self, report: &report)
                try store.save(LocalSkillVersion(
                    account: account.key, projectID: project.id, skill: skill.name, version: version.version,
                    description: version.description, code: version.code ?? "", entrypoint: version.entrypoint,
                    requirements: version.requirements, inputSchema: version.inputSchema.map { $0.encodedString() },
                    limits: version.limits.isNull ? nil : version.limits.encodedString(), contentHash: version.contentHash,
                    createdAt: version.createdAt, fetchedAt: now))
                report.fetchedVersions.append("\(project.name)/\(skill.name)@\(version.version)")
            }
        }
        if let newest = skills.map(\.updatedAt).max() {
            try store.setCursor(newest, account: account, projectID: project.id, kind: "skills")
        }
    }

    private func pullAgents(of project: Schemas.Project, report: inout Report) async throws {
        let cursor = try store.cursor(account: account, projectID: project.id, kind: "agents")
        let agents = try await get(
            "/api/v1/projects/\(project.id.pathEscaped)/agents", query: since(cursor), as: Schemas.AgentList.self, report: &report
        ).agents
        let held = Dictionary(try store.agents(account: account, projectID: project.id).map { ($0.name, $0.version) }, uniquingKeysWith: max)
        for agent in agents where held[agent.name].map({ $0 < agent.version }) ?? true {
            try store.save(LocalAgent(
                account: account.key, projectID: project.id, name: agent.name, version: agent.version, provider: agent.provider,
                model: agent.model, systemPrompt: agent.systemPrompt, skills: JSONValue.array(agent.skills.map { .string($0) }).encodedString(),
                params: JSONValue.object(agent.params).encodedString(), updatedAt: agent.updatedAt))
            report.updatedAgents.append("\(project.name)/\(agent.name)")
        }
        if let newest = agents.map(\.updatedAt).max() {
            try store.setCursor(newest, account: account, projectID: project.id, kind: "agents")
        }
    }

    private func since(_ cursor: Date?) -> [String: String] {
        guard let cursor else { return [:] }
        return ["updated_since": Timestamp.format(cursor.addingTimeInterval(-Self.overlap))]
    }

    private func get<Response: Decodable>(
        _ path: String, query: [String: String] = [:], as type: Response.Type, report: inout Report
    ) async throws -> Response {
        report.requests += 1
        return try await client.send("GET", path, query: query, as: type)
    }
}
