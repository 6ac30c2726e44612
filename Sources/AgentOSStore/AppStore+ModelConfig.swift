import Foundation
import GRDB

extension AppStore {
    /// Stores a new provider; `conflict` when the project already has one of that name.
    @discardableResult
    public func createProvider(_ provider: Provider) throws -> Provider {
        try StoreError.mapping("a provider named \(provider.name) already exists in this project") {
            try writer.write { db in try provider.inserted(db) }
        }
    }

    /// Saves changes to a provider.
    public func updateProvider(_ provider: Provider) throws {
        try writer.write { db in try provider.update(db) }
    }

    /// A project's providers, by name.
    public func providers(projectID: String) throws -> [Provider] {
        try writer.read { db in try Provider.filter(Column("project_id") == projectID).order(Column("name")).fetchAll(db) }
    }

    /// The project's provider with this name.
    public func provider(projectID: String, name: String) throws -> Provider? {
        try writer.read { db in try Provider.filter(Column("project_id") == projectID && Column("name") == name).fetchOne(db) }
    }

    /// Creates an agent at version 1, with its first history entry.
    public func createAgent(projectID: String, name: String, settings: AgentSettings, by userID: String, now: Date = Date()) throws -> Agent {
        try StoreError.mapping("an agent named \(name) already exists in this project") {
            try writer.write { db in
                let agent = try Agent(
                    id: UUID().uuidString.lowercased(), projectID: projectID, name: name, version: 1,
                    provider: settings.provider, model: settings.model, systemPrompt: settings.systemPrompt,
                    skills: settings.skills, params: settings.params, updatedBy: userID, createdAt: now, updatedAt: now
                ).inserted(db)
                try Self.history(of: agent).insert(db)
                return agent
            }
        }
    }

    /// Replaces an agent's settings as a new version; the old ones stay in its history.
    /// Unchanged settings make no new version.
    public func updateAgent(id: String, settings: AgentSettings, by userID: String, now: Date = Date()) throws -> Agent {
        try writer.write { db in
            guard var agent = try Agent.fetchOne(db, key: id) else { throw StoreError.notFound("agent") }
            guard agent.settings != settings else { return agent }
            agent.version += 1
            agent.provider = settings.provider
            agent.model = settings.model
            agent.systemPrompt = settings.systemPrompt
            agent.skills = settings.skills
            agent.params = settings.params
            agent.updatedBy = userID
            agent.updatedAt = now
            try agent.update(db)
            try Self.history(of: agent).insert(db)
            return agent
        }
    }

    private static func history(of agent: Agent) -> AgentVersion {
        AgentVersion(
            agentID: agent.id, version: agent.version, provider: agent.provider, model: agent.model,
            systemPrompt: agent.systemPrompt, skills: agent.skills, params: agent.params, updatedBy: agent.updatedBy,
            createdAt: agent.updatedAt)
    }

    /// A project's agents, by name.
    /// The project's agents by name; with `updatedSince`, only those changed at or after then.
    public func agents(projectID: String, updatedSince: Date? = nil) throws -> [Agent] {
        try writer.read { db in
            var request = Agent.filter(Column("project_id") == projectID)
            if let updatedSince { request = request.filter(Column("updated_at") >= updatedSince) }
            return try request.order(Column("name")).fetchAll(db)
        }
    }

    /// The project's agent with this name.
    public func agent(projectID: String, name: String) throws -> Agent? {
        try writer.read { db in try Agent.filter(Column("project_id") == projectID && Column("name") == name).fetchOne(db) }
    }

    /// An agent's history, newest first.
    public func agentVersions(agentID: String) throws -> [AgentVersion] {
        try writer.read { db in try AgentVersion.filter(Column("agent_id") == agentID).order(Column("version").desc).fetchAll(db) }
    }
}
