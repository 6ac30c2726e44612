import AgentOSAPI
import AgentOSAuth
import AgentOSStore
import AgentOSWire
import Foundation

/// Model providers (with their sealed keys) and agent configurations.
struct ModelConfigResource: APIResource {
    static let operations: [APIOperation] = [.listProviders, .createProvider, .getProvider, .updateProvider, .revealProvider, .listAgents, .createAgent, .getAgent, .updateAgent, .listAgentVersions]

    let context: APIContext
    let secrets: SecretBox

    func respond(to request: APICall, as caller: Caller) async throws -> Reply {
        switch request.operation {
        case .listProviders: return try listProviders(request, caller: caller)
        case .createProvider: return try createProvider(request, caller: caller)
        case .getProvider: return try getProvider(request, caller: caller)
        case .updateProvider: return try updateProvider(request, caller: caller)
        case .revealProvider: return try revealProvider(request, caller: caller)
        case .listAgents: return try listAgents(request, caller: caller)
        case .createAgent: return try createAgent(request, caller: caller)
        case .getAgent: return try getAgent(request, caller: caller)
        case .updateAgent: return try updateAgent(request, caller: caller)
        case .listAgentVersions: return try listAgentVersions(request, caller: caller)
        default: throw APIError.notFound("operation")
        }
    }

    // MARK: Providers

    private static func kind(_ value: String?) throws(APIError) -> String? {
        guard let value else { return nil }
        let kind = try FieldRules.required(value, "kind", maxLength: 32)
        guard kind.unicodeScalars.allSatisfy({ $0.isASCII && ($0.properties.isLowercase || ("0"..."9").contains($0) || $0 == "_" || $0 == "-") }) else {
            throw .invalid("kind must be lower-case letters, digits, '_' or '-' (openai, anthropic, ollama, …)")
        }
        return kind
    }

    private static func baseURL(_ value: String?) throws(APIError) -> String? {
        guard let value else { return nil }
        let text = try FieldRules.required(value, "base_url", maxLength: 2048)
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https", url.host != nil else {
            throw .invalid("base_url must be an http or https URL")
        }
        return text
    }

    func provider(_ name: String?, in access: ProjectAccess) throws -> Provider {
        guard let name, let provider = try store.provider(projectID: access.project.id, name: name) else {
            throw APIError.notFound("provider")
        }
        return provider
    }

    func listProviders(_ request: APICall, caller: Caller) throws -> Reply {
        let access = try projectAccess(request.params["project"], caller: caller)
        try access.require(.read)
        return try .ok(Schemas.ProviderList(providers: try store.providers(projectID: access.project.id).map { Schemas.Provider($0, project: access.project) }))
    }

    func createProvider(_ request: APICall, caller: Caller) throws -> Reply {
        let access = try projectAccess(request.params["project"], caller: caller)
        try access.require(.writeProvider)
        let body = try request.body(Schemas.CreateProviderRequest.self)
        let name = try FieldRules.name(body.name, "name")
        let kind = try Self.kind(body.kind) ?? ""
        let baseURL = try Self.baseURL(body.baseURL) ?? ""
        let apiKey = try FieldRules.text(body.apiKey, "api_key", maxLength: 8192) ?? ""
        let models = try FieldRules.strings(body.models, "models", maxCount: 200, maxLength: 200) ?? []
        let id = UUID().uuidString.lowercased()
        let provider = try store.createProvider(Provider(
            id: id, projectID: access.project.id, name: name, kind: kind, baseURL: baseURL, models: models,
            apiKeySealed: try secrets.seal(apiKey, context: id), createdBy: caller.user.id))
        audit("provider.create", caller: caller, target: provider.id, projectID: access.project.id,
              detail: ["name": .string(name), "kind": .string(kind)], address: request.client)
        return try .created(Schemas.Provider(provider, project: access.project))
    }

    func getProvider(_ request: APICall, caller: Caller) throws -> Reply {
        let access = try projectAccess(request.params["project"], caller: caller)
        try access.require(.read)
        return try .ok(Schemas.Provider(try provider(request.params["provider"], in: access), project: access.project))
    }

    func updateProvider(_ request: APICall, caller: Caller) throws -> Reply {
        let access = try projectAccess(request.params["project"], caller: caller)
        try access.require(.writeProvider)
        var provider = try provider(request.params["provider"], in: access)
        let body = try request.body(Schemas.UpdateProviderRequest.self)
        if let kind = try Self.kind(body.kind) { provider.kind = kind }
        if let baseURL = try Self.baseURL(body.baseURL) { provider.baseURL = baseURL }
        if let models = try FieldRules.strings(body.models, "models", maxCount: 200, maxLength: 200) { provider.models = models }
        let keyChanged = body.apiKey != nil
        if let apiKey = try FieldRules.text(body.apiKey, "api_key", maxLength: 8192) {
            provider.apiKeySealed = try secrets.seal(apiKey, context: provider.id)
        }
        provider.updatedAt = Date()
        try store.updateProvider(provider)
        audit("provider.update", caller: caller, target: provider.id, projectID: access.project.id,
              detail: ["name": .string(provider.name), "api_key_changed": .bool(keyChanged)], address: request.client)
        return try .ok(Schemas.Provider(provider, project: access.project))
    }

    func revealProvider(_ request: APICall, caller: Caller) throws -> Reply {
        let access = try projectAccess(request.params["project"], caller: caller)
        try access.require(.revealSecret)
        let provider = try provider(request.params["provider"], in: access)
        let key: String
        do {
            key = try secrets.open(provider.apiKeySealed, context: provider.id)
        } catch {
            logger.error("provider key does not open; was the secret key replaced?", metadata: ["provider": "\(provider.id)"])
            throw APIError(409, "secret_unreadable", "the stored key cannot be decrypted with this server's secret key; set it again")
        }
        audit("provider.reveal", caller: caller, target: provider.id, projectID: access.project.id,
              detail: ["name": .string(provider.name)], address: request.client)
        return try .ok(Schemas.RevealedProvider(name: provider.name, kind: provider.kind, baseURL: provider.baseURL, apiKey: key))
    }

    // MARK: Agents

    private func agentSettings(_ body: Schemas.AgentInput, access: ProjectAccess, current: AgentSettings?) throws -> AgentSettings {
        let providerName = try current == nil || body.provider != nil
            ? FieldRules.required(body.provider, "provider", maxLength: 64) : current?.provider ?? ""
        let model = try current == nil || body.model != nil ? FieldRules.required(body.model, "model", maxLength: 200) : current?.model ?? ""
        let prompt = try FieldRules.text(body.systemPrompt, "system_prompt", maxLength: 256 * 1024) ?? current?.systemPrompt ?? ""
        let skills = try FieldRules.strings(body.skills, "skills", maxCount: 200, maxLength: 64) ?? current?.skills ?? []
        let params = body.params ?? current?.params ?? [:]
        guard JSONValue.object(params).encoded().count <= 64 * 1024 else { throw APIError.invalid("params are larger than 64 KiB") }
        guard let provider = try store.provider(projectID: access.project.id, name: providerName) else {
            throw APIError.invalid("provider \(providerName) does not exist in project \(access.project.name)")
        }
        if !provider.models.isEmpty, !provider.models.contains(model) {
            throw APIError.invalid("model \(model) is not one of provider \(providerName)'s models: \(provider.models.joined(separator: ", "))")
        }
        for skill in skills where try store.skill(projectID: access.project.id, name: skill) == nil {
            throw APIError.invalid("skill \(skill) does not exist in project \(access.project.name)")
        }
        return AgentSettings(provider: providerName, model: model, systemPrompt: prompt, skills: skills, params: params)
    }

    func agent(_ name: String?, in access: ProjectAccess) throws -> Agent {
        guard let name, let agent = try store.agent(projectID: access.project.id, name: name) else { throw APIError.notFound("agent") }
        return agent
    }

    func listAgents(_ request: APICall, caller: Caller) throws -> Reply {
        let access = try projectAccess(request.params["project"], caller: caller)
        try access.require(.read)
        let since = try updatedSince(request.params["updated_since"])
        let agents = try store.agents(projectID: access.project.id, updatedSince: since)
        return try .ok(Schemas.AgentList(agents: agents.map { Schemas.Agent($0, project: access.project) }))
    }

    func createAgent(_ request: APICall, caller: Caller) throws -> Reply {
        let access = try projectAccess(request.params["project"], caller: caller)
        try access.require(.writeAgent)
        let body = try request.body(Schemas.AgentInput.self)
        let name = try FieldRules.name(body.name, "name")
        let settings = try agentSettings(body, access: access, current: nil)
        let agent = try store.createAgent(projectID: access.project.id, name: name, settings: settings, by: caller.user.id)
        audit("agent.create", caller: caller, target: agent.id, projectID: access.project.id, detail: ["name": .string(name)], address: request.client)
        return try .created(Schemas.Agent(agent, project: access.project))
    }

    func getAgent(_ request: APICall, caller: Caller) throws -> Reply {
        let access = try projectAccess(request.params["project"], caller: caller)
        try access.require(.read)
        return try .ok(Schemas.Agent(try agent(request.params["agent"], in: access), project: access.project))
    }

    func updateAgent(_ request: APICall, caller: Caller) throws -> Reply {
        let access = try projectAccess(request.params["project"], caller: caller)
        try access.require(.writeAgent)
        let current = try agent(request.params["agent"], in: access)
        let settings = try agentSettings(try request.body(Schemas.AgentInput.self), access: access, current: current.settings)
        let updated = try store.updateAgent(id: current.id, settings: settings, by: caller.user.id)
        if updated.version != current.version {
            audit("agent.update", caller: caller, target: updated.id, projectID: access.project.id,
                  detail: ["name": .string(updated.name), "version": .number(Double(updated.version))], address: request.client)
        }
        return try .ok(Schemas.Agent(updated, project: access.project))
    }

    func listAgentVersions(_ request: APICall, caller: Caller) throws -> Reply {
        let access = try projectAccess(request.params["project"], caller: caller)
        try access.require(.read)
        let agent = try agent(request.params["agent"], in: access)
        return try .ok(Schemas.AgentVersionList(versions: try store.agentVersions(agentID: agent.id).map(Schemas.AgentVersion.init)))
    }
}
