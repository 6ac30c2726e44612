import AgentOSAPI
import AgentOSStore
import AgentOSWire
import Foundation

/// Skills and their versions.
struct SkillResource: APIResource {
    static let operations: [APIOperation] = [.listSkills, .createSkill, .getSkill, .createSkillVersion, .listSkillVersions, .getSkillVersion]

    let context: APIContext

    func respond(to request: APICall, as caller: Caller) async throws -> Reply {
        switch request.operation {
        case .listSkills: return try listSkills(request, caller: caller)
        case .createSkill: return try createSkill(request, caller: caller)
        case .getSkill: return try getSkill(request, caller: caller)
        case .createSkillVersion: return try createSkillVersion(request, caller: caller)
        case .listSkillVersions: return try listSkillVersions(request, caller: caller)
        case .getSkillVersion: return try getSkillVersion(request, caller: caller)
        default: throw APIError.notFound("operation")
        }
    }

    static let maxRequirementsBytes = 64 * 1024
    static let maxSchemaBytes = 256 * 1024

    /// Checks the content fields of a skill body (create or new version).
    static func skillContent(_ body: Schemas.SkillInput) throws(APIError) -> SkillContent {
        let code = try FieldRules.required(body.code, "code", maxLength: APIHandler.maxCodeBytes)
        let entrypoint = try FieldRules.text(body.entrypoint, "entrypoint", maxLength: 100) ?? "main"
        guard entrypoint.isPythonIdentifier else { throw .invalid("entrypoint must be a Python function name") }
        if body.entrypoint != nil, !Self.defines(entrypoint, in: code) {
            throw .invalid("code does not define \(entrypoint)()")
        }
        var requirements = ""
        if let given = body.requirements {
            if let lines = given.lines {
                guard lines.count <= 500, lines.allSatisfy({ !$0.contains("\n") }) else {
                    throw .invalid("requirements must be requirements.txt text or an array of at most 500 one-line strings")
                }
            }
            requirements = given.text
            guard requirements.utf8.count <= maxRequirementsBytes else { throw .invalid("requirements are longer than 64 KiB") }
            // What a worker would refuse to install is refused now.
            do {
                _ = try PythonRequirements(parsing: requirements)
            } catch {
                throw .invalid(error.description)
            }
        }
        var schema: JSONValue?
        if let value = body.inputSchema, !value.isNull {
            guard value.encoded().count <= maxSchemaBytes else { throw .invalid("input_schema is larger than 256 KiB") }
            do {
                _ = try JSONSchema(value)
            } catch {
                throw .invalid("input_schema is not a usable JSON Schema: \(error.description)")
            }
            schema = value
        }
        let limits = try JobRequest.checked(body.limits ?? Schemas.LimitsInput())
        let description = try FieldRules.text(body.description, "description", maxLength: 4096) ?? ""
        return SkillContent(
            description: description, code: code, entrypoint: entrypoint,
            requirements: requirements.trimmingCharacters(in: .whitespacesAndNewlines), inputSchema: schema,
            limits: limits.isEmpty ? nil : try? JSONValue.parse(APICoding.encode(limits)))
    }

    /// Whether `code` has a top-level `def name(` or `async def name(`.
    static func defines(_ name: String, in code: String) -> Bool {
        code.split(separator: "\n").contains { line in
            line.hasPrefix("def \(name)(") || line.hasPrefix("async def \(name)(") || line.hasPrefix("\(name) =")
        }
    }

    /// The project's skill by name; 404 when missing.
    func skill(_ name: String?, in access: ProjectAccess) throws -> Skill {
        guard let name, let skill = try store.skill(projectID: access.project.id, name: name) else { throw APIError.notFound("skill") }
        return skill
    }

    func listSkills(_ request: APICall, caller: Caller) throws -> Reply {
        let access = try projectAccess(request.params["project"], caller: caller)
        try access.require(.read)
        let since = try updatedSince(request.params["updated_since"])
        let skills = try store.skills(projectID: access.project.id, updatedSince: since)
        return try .ok(Schemas.SkillList(skills: skills.map { Schemas.Skill($0, project: access.project) }))
    }

    func createSkill(_ request: APICall, caller: Caller) throws -> Reply {
        let access = try projectAccess(request.params["project"], caller: caller)
        try access.require(.writeSkill)
        let body = try request.body(Schemas.SkillInput.self)
        let name = try FieldRules.name(body.name, "name")
        let content = try Self.skillContent(body)
        let (skill, version) = try store.createSkill(projectID: access.project.id, name: name, content: content, author: caller.user.id)
        audit("skill.create", caller: caller, target: skill.id, projectID: access.project.id, detail: ["name": .string(name)], address: request.client)
        return try .created(Schemas.Skill(skill, project: access.project, latest: version))
    }

    func getSkill(_ request: APICall, caller: Caller) throws -> Reply {
        let access = try projectAccess(request.params["project"], caller: caller)
        try access.require(.read)
        let skill = try skill(request.params["skill"], in: access)
        let latest = try store.skillVersion(skillID: skill.id, version: skill.latestVersion)
        return try .ok(Schemas.Skill(skill, project: access.project, latest: latest))
    }

    func createSkillVersion(_ request: APICall, caller: Caller) throws -> Reply {
        let access = try projectAccess(request.params["project"], caller: caller)
        try access.require(.writeSkill)
        let skill = try skill(request.params["skill"], in: access)
        let content = try Self.skillContent(try request.body(Schemas.SkillInput.self))
        let (version, created) = try store.addSkillVersion(skillID: skill.id, content: content, author: caller.user.id)
        if created {
            audit("skill.version", caller: caller, target: skill.id, projectID: access.project.id,
                  detail: ["name": .string(skill.name), "version": .number(Double(version.version))], address: request.client)
        }
        return try .status(created ? 201 : 200, Schemas.SkillVersion(version, skill: skill, created: created))
    }

    func listSkillVersions(_ request: APICall, caller: Caller) throws -> Reply {
        let access = try projectAccess(request.params["project"], caller: caller)
        try access.require(.read)
        let skill = try skill(request.params["skill"], in: access)
        let versions = try store.skillVersions(skillID: skill.id).map { version in
            var listed = Schemas.SkillVersion(version, skill: skill)
            listed.code = nil
            return listed
        }
        return try .ok(Schemas.SkillVersionList(versions: versions))
    }

    func getSkillVersion(_ request: APICall, caller: Caller) throws -> Reply {
        let access = try projectAccess(request.params["project"], caller: caller)
        try access.require(.read)
        let skill = try skill(request.params["skill"], in: access)
        guard let number = request.params["version"].flatMap(Int.init),
            let version = try store.skillVersion(skillID: skill.id, version: number)
        else { throw APIError.notFound("skill version") }
        return try .ok(Schemas.SkillVersion(version, skill: skill))
    }
}
