import AgentOSStore
import Foundation
import PostgresNIO

extension PostgresStore {
    @discardableResult
    public func createProvider(_ provider: Provider) throws -> Provider {
        try mappingConflict("a provider named \(provider.name) already exists in this project") {
            try write { db in try await db.insert(provider, into: "providers", logger: logger) }
        }
        return provider
    }

    public func updateProvider(_ provider: Provider) throws {
        try write { db in try await db.update(provider, in: "providers", logger: logger) }
    }

    public func providers(projectID: String) throws -> [Provider] {
        try read { db in
            try await db.all(Provider.self, "SELECT * FROM providers WHERE project_id = \(projectID) ORDER BY name COLLATE \"C\"", logger: logger)
        }
    }

    public func provider(projectID: String, name: String) throws -> Provider? {
        try read { db in
            try await db.one(Provider.self, "SELECT * FROM providers WHERE project_id = \(projectID) AND name = \(name)", logger: logger)
        }
    }

    public func createAgent(projectID: String, name: String, settings: AgentSettings, by userID: String, now: Date) throws -> Agent {
        try mappingConflict("an agent named \(name) already exists in this project") {
            try write { db in
                let agent = Agent(projectID: projectID, name: name, settings: settings, by: userID, at: now)
                try await db.insert(agent, into: "agents", logger: logger)
                try await db.insert(agent.history, into: "agent_versions", logger: logger)
                return agent
            }
        }
    }

    public func updateAgent(id: String, settings: AgentSettings, by userID: String, now: Date) throws -> Agent {
        try write { db in
            guard let current = try await db.one(Agent.self, "SELECT * FROM agents WHERE id = \(id) FOR UPDATE", logger: logger) else {
                throw StoreError.notFound("agent")
            }
            guard current.settings != settings else { return current }
            let agent = current.updated(to: settings, by: userID, at: now)
            try await db.update(agent, in: "agents", logger: logger)
            try await db.insert(agent.history, into: "agent_versions", logger: logger)
            return agent
        }
    }

    public func agents(projectID: String, updatedSince: Date?) throws -> [Agent] {
        try read { db in
            try await db.all(Agent.self, """
                SELECT * FROM agents WHERE project_id = \(projectID) AND (\(updatedSince)::timestamptz IS NULL OR updated_at >= \(updatedSince))
                ORDER BY name COLLATE "C"
                """, logger: logger)
        }
    }

    public func agent(projectID: String, name: String) throws -> Agent? {
        try read { db in try await db.one(Agent.self, "SELECT * FROM agents WHERE project_id = \(projectID) AND name = \(name)", logger: logger) }
    }

    public func agentVersions(agentID: String) throws -> [AgentVersion] {
        try read { db in
            try await db.all(AgentVersion.self, "SELECT * FROM agent_versions WHERE agent_id = \(agentID) ORDER BY version DESC", logger: logger)
        }
    }
}
