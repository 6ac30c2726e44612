import AgentOSWire
import Foundation

extension Schemas {
    /// A model provider; its key is never shown, only whether one is set.
    public struct Provider: APISchema, Equatable {
        public var id: String
        public var project: String
        public var name: String
        public var kind: String
        public var baseURL: String
        public var models: [String]
        public var hasAPIKey: Bool
        public var createdBy: String
        public var createdAt: Date
        public var updatedAt: Date

        public init(
            id: String, project: String, name: String, kind: String, baseURL: String, models: [String], hasAPIKey: Bool,
            createdBy: String, createdAt: Date, updatedAt: Date
        ) {
            self.id = id
            self.project = project
            self.name = name
            self.kind = kind
            self.baseURL = baseURL
            self.models = models
            self.hasAPIKey = hasAPIKey
            self.createdBy = createdBy
            self.createdAt = createdAt
            self.updatedAt = updatedAt
        }

        enum CodingKeys: String, CodingKey {
            case id
            case project
            case name
            case kind
            case baseURL = "base_url"
            case models
            case hasAPIKey = "has_api_key"
            case createdBy = "created_by"
            case createdAt = "created_at"
            case updatedAt = "updated_at"
        }
    }

    /// `GET /projects/{project}/providers`.
    public struct ProviderList: APISchema, Equatable {
        public var providers: [Provider]

        public init(
            providers: [Provider]
        ) {
            self.providers = providers
        }
    }

    /// `POST /projects/{project}/providers`.
    public struct CreateProviderRequest: APISchema, Equatable {
        public static var fieldSchemas: [String: JSONValue] {
            [
                "name": ["maxLength": 64],
                "kind": ["maxLength": 32],
                "base_url": ["maxLength": 2048],
                "api_key": ["maxLength": 8192],
            ]
        }

        public var name: String
        public var kind: String
        public var baseURL: String
        public var apiKey: String?
        public var models: [String]?

        public init(
            name: String, kind: String, baseURL: String, apiKey: String? = nil, models: [String]? = nil
        ) {
            self.name = name
            self.kind = kind
            self.baseURL = baseURL
            self.apiKey = apiKey
            self.models = models
        }

        enum CodingKeys: String, CodingKey {
            case name
            case kind
            case baseURL = "base_url"
            case apiKey = "api_key"
            case models
        }
    }

    /// `PATCH /projects/{project}/providers/{provider}`: only the fields given change.
    public struct UpdateProviderRequest: APISchema, Equatable {
        public static var fieldSchemas: [String: JSONValue] {
            [
                "kind": ["maxLength": 32],
                "base_url": ["maxLength": 2048],
                "api_key": ["maxLength": 8192],
            ]
        }

        public var kind: String?
        public var baseURL: String?
        public var apiKey: String?
        public var models: [String]?

        public init(
            kind: String? = nil, baseURL: String? = nil, apiKey: String? = nil, models: [String]? = nil
        ) {
            self.kind = kind
            self.baseURL = baseURL
            self.apiKey = apiKey
            self.models = models
        }

        enum CodingKeys: String, CodingKey {
            case kind
            case baseURL = "base_url"
            case apiKey = "api_key"
            case models
        }
    }

    /// `POST …/providers/{provider}/reveal`: the key in clear.
    public struct RevealedProvider: APISchema, Equatable {
        public var name: String
        public var kind: String
        public var baseURL: String
        public var apiKey: String

        public init(
            name: String, kind: String, baseURL: String, apiKey: String
        ) {
            self.name = name
            self.kind = kind
            self.baseURL = baseURL
            self.apiKey = apiKey
        }

        enum CodingKeys: String, CodingKey {
            case name
            case kind
            case baseURL = "base_url"
            case apiKey = "api_key"
        }
    }

    /// An agent configuration at its latest version.
    public struct Agent: APISchema, Equatable {
        public var id: String
        public var project: String
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

        public init(
            id: String, project: String, name: String, version: Int, provider: String, model: String,
            systemPrompt: String, skills: [String], params: [String: JSONValue], updatedBy: String, createdAt: Date,
            updatedAt: Date
        ) {
            self.id = id
            self.project = project
            self.name = name
            self.version = version
            self.provider = provider
            self.model = model
            self.systemPrompt = systemPrompt
            self.skills = skills
            self.params = params
            self.updatedBy = updatedBy
            self.createdAt = createdAt
            self.updatedAt = updatedAt
        }

        enum CodingKeys: String, CodingKey {
            case id
            case project
            case name
            case version
            case provider
            case model
            case systemPrompt = "system_prompt"
            case skills
            case params
            case updatedBy = "updated_by"
            case createdAt = "created_at"
            case updatedAt = "updated_at"
        }
    }

    /// `GET /projects/{project}/agents`.
    public struct AgentList: APISchema, Equatable {
        public var agents: [Agent]

        public init(
            agents: [Agent]
        ) {
            self.agents = agents
        }
    }

    /// One version of an agent configuration.
    public struct AgentVersion: APISchema, Equatable {
        public var version: Int
        public var provider: String
        public var model: String
        public var systemPrompt: String
        public var skills: [String]
        public var params: [String: JSONValue]
        public var updatedBy: String
        public var createdAt: Date

        public init(
            version: Int, provider: String, model: String, systemPrompt: String, skills: [String],
            params: [String: JSONValue], updatedBy: String, createdAt: Date
        ) {
            self.version = version
            self.provider = provider
            self.model = model
            self.systemPrompt = systemPrompt
            self.skills = skills
            self.params = params
            self.updatedBy = updatedBy
            self.createdAt = createdAt
        }

        enum CodingKeys: String, CodingKey {
            case version
            case provider
            case model
            case systemPrompt = "system_prompt"
            case skills
            case params
            case updatedBy = "updated_by"
            case createdAt = "created_at"
        }
    }

    /// `GET /projects/{project}/agents/{agent}/versions`.
    public struct AgentVersionList: APISchema, Equatable {
        public var versions: [AgentVersion]

        public init(
            versions: [AgentVersion]
        ) {
            self.versions = versions
        }
    }

    /// `POST …/agents` (with `name`, `provider`, `model`) and `PATCH …/agents/{agent}` (only the fields given change).
    public struct AgentInput: APISchema, Equatable {
        public var name: String?
        public var provider: String?
        public var model: String?
        public var systemPrompt: String?
        public var skills: [String]?
        public var params: [String: JSONValue]?

        public init(
            name: String? = nil, provider: String? = nil, model: String? = nil, systemPrompt: String? = nil,
            skills: [String]? = nil, params: [String: JSONValue]? = nil
        ) {
            self.name = name
            self.provider = provider
            self.model = model
            self.systemPrompt = systemPrompt
            self.skills = skills
            self.params = params
        }

        enum CodingKeys: String, CodingKey {
            case name
            case provider
            case model
            case systemPrompt = "system_prompt"
            case skills
            case params
        }
    }
}
