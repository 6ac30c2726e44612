import Foundation
import GRDB

extension SQLiteStore {
    @discardableResult
    public func createProvider(_ provider: Provider) throws -> Provider {
        try StoreError.mapping("a provider named \(provider.name) already exists in this project") {
            try writer.write { db in try provider.inserted(db) }
        }
    }

    public func updateProvider(_ provider: Provider) throws {
        try writer.write { db in try provider.update(db) }
    }

    public func providers(projectID: String) throws -> [Provider] {
        try writer.read { db in try Provider.filter(Column("project_id") == projectID).order(Column("name")).fetchAll(db) }
    }

    public func provider(projectID: String, name: String) throws -> Provider? {
        try writer.read { db in try Provider.filter(Column("project_id") == projectID && Column("name") == name).fetchOne(db) }
    }

    public func createAgent(projectID: String, name: String, settings: AgentSettings, by userID: String, now: Date) throws -> Agent {
        try StoreError.mapping("an agent named \(name) already exists in this project") {
            try writer.write { db in
                let agent = try Agent(projectID: projectID, name: name, settings: settings, by: userID, at: now).inserted(db)
                try agent.history.insert(db)
                return agent
            }
        }
    }

    public func updateAgent(id: String, settings: AgentSettings, by userID: String, now: Date) throws -> Agent {
        try writer.write { db in
            guard let current = try Agent.fetchOne(db, key: id) else { throw StoreError.notFound("agent") }
            guard current.settings != settings else { return current }
            let agent = current.updated(to: settings, by: userID, at: now)
            try agent.update(db)
            try agent.history.insert(db)
            return agent
        }
    }


    public func agents(projectID: String, updatedSince: Date?) throws -> [Agent] {
        try writer.read { db in
            var request = Agent.filter(Column("project_id") == projectID)
            if let updatedSince { request = request.filter(Column("updated_at") >= updatedSince) }
            return try request.order(Column("name")).fetchAll(db)
        }
    }

    public func agent(projectID: String, name: String) throws -> Agent? {
        try writer.read { db in try Agent.filter(Column("project_id") == projectID && Column("name") == name).fetchOne(db) }
    }

    public func agentVersions(agentID: String) throws -> [AgentVersion] {
        try writer.read { db in try AgentVersion.filter(Column("agent_id") == agentID).order(Column("version").desc).fetchAll(db) }
    }
}
