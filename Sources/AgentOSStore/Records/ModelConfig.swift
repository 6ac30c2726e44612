import AgentOSWire
import Foundation
import GRDB

/// A model provider of a project. The API key is stored sealed (AES-GCM), never in clear.
public struct Provider: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "providers"

    public var id: String
    public var projectID: String
    public var name: String
    /// `openai`, `anthropic`, `ollama`, …
    public var kind: String
    public var baseURL: String
    public var models: [String]
    /// Nonce, ciphertext and tag of the key.
    public var apiKeySealed: Data
    public var createdBy: String
    public var createdAt: Date
    public var updatedAt: Date

    public init(id: String = UUID().uuidString.lowercased(), projectID: String, name: String, kind: String, baseURL: String, models: [String], apiKeySealed: Data, createdBy: String, now: Date = Date()) {
        self.id = id
        self.projectID = projectID
        self.name = name
        self.kind = kind
        self.baseURL = baseURL
        self.models = models
        self.apiKeySealed = apiKeySealed
        self.createdBy = createdBy
        self.createdAt = now
        self.updatedAt = now
    }

    enum CodingKeys: String, CodingKey {
        case id, name, kind, models
        case projectID = "project_id"
        case baseURL = "base_url"
        case apiKeySealed = "api_key_sealed"
        case createdBy = "created_by"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
    }
}

/// The editable part of an agent.
public struct AgentSettings: Codable, Sendable, Equatable {
    public var provider: String
    public var model: String
    public var systemPrompt: String
    public var skills: [String]
    public var params: [String: JSONValue]

    public init(provider: String, model: String, systemPrompt: String, skills: [String], params: [String: JSONValue]) {
        self.provider = provider
        self.model = model
        self.systemPrompt = systemPrompt
        self.skills = skills
        self.params = params
    }
}

/// An agent: a model, a prompt and the skills it may call. Every change is a new version.
public struct Agent: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "agents"

    public var id: String
    public var projectID: String
    public var name: String
    public var version: Int
    public var provider: String
    public var model: String
    public var systemPrompt: String
    public var skills: [String]
    public var params: [String: JSONValue]
    public var updatedBy: String
    public var createdAt: Date
    public var updatedAt: Date

    /// Version 1 of a new agent.
    public init(projectID: String, name: String, settings: AgentSettings, by userID: String, at now: Date) {
        self.id = UUID().uuidString.lowercased()
        self.projectID = projectID
        self.name = name
        self.version = 1
        self.provider = settings.provider
        self.model = settings.model
        self.systemPrompt = settings.systemPrompt
        self.skills = settings.skills
        self.params = settings.params
        self.updatedBy = userID
        self.createdAt = now
        self.updatedAt = now
    }

    /// The next version, with `settings`.
    public func updated(to settings: AgentSettings, by userID: String, at now: Date) -> Agent {
        var agent = self
        agent.version += 1
        agent.provider = settings.provider
        agent.model = settings.model
        agent.systemPrompt = settings.systemPrompt
        agent.skills = settings.skills
        agent.params = settings.params
        agent.updatedBy = userID
        agent.updatedAt = now
        return agent
    }

    /// This version of the agent as its history keeps it.
    public var history: AgentVersion {
        AgentVersion(
            agentID: id, version: version, provider: provider, model: model, systemPrompt: systemPrompt, skills: skills,
            params: params, updatedBy: updatedBy, createdAt: updatedAt)
    }

    public var settings: AgentSettings {
        AgentSettings(provider: provider, model: model, systemPrompt: systemPrompt, skills: skills, params: params)
    }

    enum CodingKeys: String, CodingKey {
        case id, name, version, provider, model, skills, params
        case projectID = "project_id"
        case systemPrompt = "system_prompt"
        case updatedBy = "updated_by"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
    }
}

/// A past (or the current) state of an agent.
public struct AgentVersion: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "agent_versions"

    public var agentID: String
    public var version: Int
    public var provider: String
    public var model: String
    public var systemPrompt: String
    public var skills: [String]
    public var params: [String: JSONValue]
    public var updatedBy: String
    public var createdAt: Date

    enum CodingKeys: String, CodingKey {
        case version, provider, model, skills, params
        case agentID = "agent_id"
        case systemPrompt = "system_prompt"
        case updatedBy = "updated_by"
        case createdAt = "created_at"
    }
}
