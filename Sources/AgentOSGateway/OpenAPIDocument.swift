import AgentOSWire

/// The OpenAPI 3 document of `/api/v1`, built from `APIRoutes.all` plus the request and
/// response schemas of each operation below. A test checks that it names every route the
/// router serves, and the integration tests check live responses against these schemas.
public enum OpenAPIDocument {
    /// Where the gateway serves it.
    public static let path = "/api/v1/openapi.json"

    /// The whole document.
    public static let json: JSONValue = {
        var paths: [String: JSONValue] = [:]
        for route in APIRoutes.all {
            let path = openAPIPath(route.path)
            var item = paths[path]?.objectValue ?? [:]
            item[route.method.lowercased()] = operation(route)
            paths[path] = .object(item)
        }
        paths[path] = ["get": [
            "operationId": "openapi", "summary": "This document", "tags": ["meta"], "security": [],
            "responses": ["200": ["description": "OpenAPI 3 document", "content": ["application/json": ["schema": ["type": "object"]]]]],
        ]]
        paths[openAPIPath(JobEvents.path)] = ["get": [
            "operationId": "jobs.events", "tags": ["jobs"],
            "summary": "A job's life as Server-Sent Events: status changes, then output and result; the stream then closes",
            "parameters": [["name": "id", "in": "path", "required": true, "schema": ["type": "string"]]],
            "responses": [
                "200": ["description": "text/event-stream with events status, output, result (and error)",
                        "content": ["text/event-stream": ["schema": ["type": "string"]]]],
                "401": ["description": "Not authenticated", "content": ["application/json": ["schema": ref("Error")]]],
                "404": ["description": "Not found", "content": ["application/json": ["schema": ref("Error")]]],
                "503": ["description": "The server is unreachable", "content": ["application/json": ["schema": ref("Error")]]],
            ],
        ]]
        paths["/metrics"] = ["get": [
            "operationId": "metrics", "summary": "Prometheus metrics of this gateway and the server's worker count", "tags": ["meta"],
            "security": [],
            "responses": ["200": ["description": "Prometheus text format", "content": ["text/plain": ["schema": ["type": "string"]]]]],
        ]]
        paths["/healthz"] = ["get": [
            "operationId": "healthz", "summary": "Gateway and server reachable", "tags": ["meta"], "security": [],
            "responses": [
                "200": ["description": "Both are up", "content": ["application/json": ["schema": ["type": "object"]]]],
                "503": ["description": "The server is unreachable", "content": ["application/json": ["schema": ["type": "object"]]]],
            ],
        ]]
        return [
            "openapi": "3.0.3",
            "info": [
                "title": "AgentOS API", "version": .string(AgentOSVersion.current),
                "description": "The AgentOS control plane over HTTP. Errors are {\"error\": {\"code\", \"message\"}}.",
            ],
            "servers": [["url": "/"]],
            "security": [["bearer": []]],
            "paths": .object(paths),
            "components": [
                "securitySchemes": ["bearer": [
                    "type": "http", "scheme": "bearer",
                    "description": "An access token from /auth/login or /auth/refresh, or a personal access token (aos_pat_…)",
                ]],
                "schemas": .object(schemas),
            ],
        ]
    }()

    /// `/projects/:project` → `/projects/{project}`.
    public static func openAPIPath(_ routerPath: String) -> String {
        routerPath.split(separator: "/", omittingEmptySubsequences: false).map { part in
            part.hasPrefix(":") ? "{\(part.dropFirst())}" : String(part)
        }.joined(separator: "/")
    }

    private static func operation(_ route: APIRoute) -> JSONValue {
        let contract = contracts(route.operation)
        var fields: [String: JSONValue] = [
            "operationId": .string(route.operation.rawValue),
            "summary": .string(route.summary),
            "tags": [.string(route.tag)],
        ]
        var parameters: [JSONValue] = route.path.split(separator: "/").filter { $0.hasPrefix(":") }.map { name in
            ["name": .string(String(name.dropFirst())), "in": "path", "required": true, "schema": ["type": "string"]]
        }
        for name in route.query {
            parameters.append(["name": .string(name), "in": "query", "required": .bool(name == "name" && route.body == .raw),
                               "schema": queryParameterSchema(name)])
        }
        if !parameters.isEmpty { fields["parameters"] = .array(parameters) }
        switch route.body {
        case .none: break
        case .json:
            fields["requestBody"] = ["required": true, "content": ["application/json": ["schema": contract.request ?? ["type": "object"]]]]
        case .raw:
            fields["requestBody"] = ["required": true, "content": ["application/octet-stream": ["schema": ["type": "string", "format": "binary"]]]]
        }
        if [.login, .refresh].contains(route.operation) { fields["security"] = [] }
        var responses: [String: JSONValue] = [:]
        for (status, schema) in contract.responses {
            var response: [String: JSONValue] = ["description": .string(description(status))]
            if let schema {
                response["content"] = route.operation == .downloadFile && status == 200
                    ? ["application/octet-stream": ["schema": ["type": "string", "format": "binary"]]]
                    : ["application/json": ["schema": schema]]
            }
            responses[String(status)] = .object(response)
        }
        for status in errorStatuses(route) where responses[String(status)] == nil {
            responses[String(status)] = ["description": .string(description(status)), "content": ["application/json": ["schema": ref("Error")]]]
        }
        fields["responses"] = .object(responses)
        return .object(fields)
    }

    private static func errorStatuses(_ route: APIRoute) -> [Int] {
        var statuses = [400, 503]
        if ![.login, .refresh].contains(route.operation) { statuses += [401, 403] }
        if route.path.contains(":") { statuses.append(404) }
        if route.body == .raw { statuses.append(413) }
        if route.body == .json { statuses += [409, 413] }
        if route.operation == .login { statuses.append(429) }
        return statuses
    }

    private static func description(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 201: "Created"
        case 202: "Accepted: queued"
        case 204: "Done, no content"
        case 400: "Invalid input"
        case 401: "Not authenticated"
        case 403: "Not allowed"
        case 404: "Not found (also for projects you are not a member of)"
        case 409: "Conflict"
        case 413: "Body too large"
        case 429: "Rate limited; see Retry-After"
        case 503: "Overloaded or the server is unreachable"
        default: "Response"
        }
    }

    private static func queryParameterSchema(_ name: String) -> JSONValue {
        switch name {
        case "wait": ["type": "number", "minimum": 0, "maximum": 300]
        case "limit": ["type": "integer", "minimum": 1]
        case "after": ["type": "integer", "minimum": 0]
        case "status": ["type": "string", "enum": .array(["queued", "running", "succeeded", "failed", "timed_out", "cancelled"])]
        case "origin": ["type": "string", "enum": ["server", "local"]]
        default: ["type": "string"]
        }
    }

    // MARK: Schemas

    static func ref(_ name: String) -> JSONValue { ["$ref": .string("#/components/schemas/\(name)")] }
    private static func list(_ key: String, of item: JSONValue, cursor: Bool = false) -> JSONValue {
        var properties: [String: JSONValue] = [key: ["type": "array", "items": item]]
        if cursor { properties["next_cursor"] = ["type": "string", "nullable": true] }
        return ["type": "object", "required": .array([.string(key)]), "properties": .object(properties)]
    }
    private static func object(_ properties: [String: JSONValue], required: [String] = []) -> JSONValue {
        var fields: [String: JSONValue] = ["type": "object", "properties": .object(properties)]
        if !required.isEmpty { fields["required"] = .array(required.map(JSONValue.string)) }
        return .object(fields)
    }
    private static let string: JSONValue = ["type": "string"]
    private static let nullableString: JSONValue = ["type": "string", "nullable": true]
    private static let integer: JSONValue = ["type": "integer"]
    private static let nullableInteger: JSONValue = ["type": "integer", "nullable": true]
    private static let number: JSONValue = ["type": "number"]
    private static let boolean: JSONValue = ["type": "boolean"]
    private static let strings: JSONValue = ["type": "array", "items": ["type": "string"]]
    private static let anyObject: JSONValue = ["type": "object"]
    private static let anyValue: JSONValue = [:]
    private static let time: JSONValue = ["type": "string", "format": "date-time"]
    private static let nullableTime: JSONValue = ["type": "string", "format": "date-time", "nullable": true]

    private static let member = object(
        ["user_id": string, "email": string, "name": string, "role": string], required: ["user_id", "email", "role"])

    static let schemas: [String: JSONValue] = [
        "Error": object(["error": object(["code": string, "message": string, "path": string], required: ["code", "message"])], required: ["error"]),
        "User": object(
            ["id": string, "email": string, "name": string, "role": ["type": "string", "enum": ["admin", "user"]],
             "disabled": boolean, "created_at": time],
            required: ["id", "email", "name", "role", "disabled"]),
        "TokenPair": object(
            ["access_token": string, "token_type": ["type": "string", "enum": ["Bearer"]], "expires_in": number,
             "refresh_token": string, "refresh_expires_at": time, "user": ref("User")],
            required: ["access_token", "token_type", "expires_in", "refresh_token", "user"]),
        "PersonalToken": object(
            ["id": string, "name": string, "prefix": string, "token": ["type": "string", "description": "Only in the creation response"],
             "created_at": time, "expires_at": nullableTime, "last_used_at": nullableTime, "revoked_at": nullableTime, "revoked": boolean],
            required: ["id", "name", "prefix", "created_at", "revoked"]),
        "WorkerToken": object(
            ["id": string, "name": string, "labels": ["type": "array", "items": string, "nullable": true],
             "token": ["type": "string", "description": "Only in the creation response"],
             "created_at": time, "revoked_at": nullableTime, "revoked": boolean],
            required: ["id", "name", "created_at", "revoked"]),
        "Team": object(
            ["id": string, "name": string, "role": ["type": "string", "enum": ["owner", "member"], "nullable": true],
             "created_by": string, "created_at": time, "members": ["type": "array", "items": member]],
            required: ["id", "name"]),
        "Project": object(
            ["id": string, "name": string, "team_id": nullableString,
             "role": ["type": "string", "enum": ["owner", "editor", "runner", "viewer"], "nullable": true],
             "created_by": string, "created_at": time, "allow_network": boolean, "members": ["type": "array", "items": member]],
            required: ["id", "name"]),
        "Limits": object(["timeout_s": number, "memory_mb": ["type": "integer", "nullable": true], "max_output_kb": number, "network": boolean]),
        "SkillInput": object(
            ["name": string, "description": string, "code": string, "entrypoint": string,
             "requirements": ["oneOf": [string, strings]], "input_schema": anyObject, "limits": ref("Limits")],
            required: ["code"]),
        "SkillVersion": object(
            ["skill": string, "version": integer, "description": string, "code": string, "entrypoint": string,
             "requirements": string, "input_schema": ["type": "object", "nullable": true], "limits": anyObject,
             "content_hash": string, "author": string, "created_at": time, "created": boolean],
            required: ["skill", "version", "entrypoint", "content_hash"]),
        "Skill": object(
            ["id": string, "project": string, "name": string, "description": string, "latest_version": integer,
             "created_by": string, "created_at": time, "updated_at": time, "latest": ref("SkillVersion")],
            required: ["id", "name", "latest_version"]),
        "Provider": object(
            ["id": string, "project": string, "name": string, "kind": string, "base_url": string, "models": strings,
             "has_api_key": boolean, "created_by": string, "created_at": time, "updated_at": time],
            required: ["id", "name", "kind", "base_url", "models"]),
        "ProviderInput": object(
            ["name": string, "kind": string, "base_url": string, "api_key": string, "models": strings],
            required: ["name", "kind", "base_url"]),
        "Agent": object(
            ["id": string, "project": string, "name": string, "version": integer, "provider": string, "model": string,
             "system_prompt": string, "skills": strings, "params": anyObject, "updated_by": string,
             "created_at": time, "updated_at": time],
            required: ["id", "name", "version", "provider", "model"]),
        "AgentInput": object(
            ["name": string, "provider": string, "model": string, "system_prompt": string, "skills": strings, "params": anyObject]),
        "JobSubmit": object(
            ["skill": string, "version": integer, "code": string, "inputs": anyObject,
             "target": ["type": "string", "enum": ["cloud", "private"]], "worker": string, "labels": strings,
             "limits": ref("Limits"),
             "files": ["type": "array", "items": ["oneOf": [string, object(["id": string, "name": string], required: ["id"])]]],
             "session_id": string, "idempotency_key": string, "priority": integer, "max_attempts": integer]),
        "Job": object(
            ["id": string, "project": string,
             "status": ["type": "string", "enum": ["queued", "running", "succeeded", "failed", "timed_out", "cancelled"]],
             "origin": ["type": "string", "enum": ["server", "local"]], "skill": nullableString, "version": nullableInteger,
             "entrypoint": string, "session_id": nullableString, "inputs": anyObject,
             "target": ["type": "string", "enum": ["cloud", "private"]], "worker": nullableString, "worker_id": nullableString,
             "requested_worker": nullableString, "labels": strings, "limits": ref("Limits"), "priority": integer,
             "attempts": integer, "max_attempts": integer, "result": anyValue, "stdout": string, "stderr": string,
             "output_truncated": boolean, "exit_code": nullableInteger, "error": nullableString, "submitted_by": string,
             "idempotency_key": nullableString, "created_at": time, "started_at": nullableTime, "finished_at": nullableTime,
             "duration_ms": nullableInteger, "client_run_id": nullableString, "device": nullableString,
             "files": ["type": "array", "items": object(["id": string, "name": string, "sha256": string, "size": integer])],
             "warnings": strings],
            required: ["id", "project", "status", "origin", "inputs", "target", "attempts", "submitted_by", "created_at"]),
        "RunRecord": object(
            ["id": string, "skill": string, "version": integer, "code": string, "inputs": anyObject,
             "status": ["type": "string", "enum": ["succeeded", "failed", "timed_out", "cancelled"]], "result": anyValue,
             "stdout": string, "stderr": string, "exit_code": integer, "error": string, "started_at": time,
             "finished_at": time, "device": string],
            required: ["id", "status"]),
        "Session": object(
            ["id": string, "project": string, "title": string, "agent": nullableString, "created_by": string,
             "created_at": time, "updated_at": time],
            required: ["id", "project", "title"]),
        "Message": object(
            ["id": string, "session_id": string, "seq": integer,
             "role": ["type": "string", "enum": ["system", "user", "assistant", "tool"]], "content": string,
             "job_id": nullableString, "created_by": string, "created_at": time],
            required: ["id", "session_id", "seq", "role", "content"]),
        "File": object(
            ["id": string, "project": string, "name": string, "sha256": string, "size": integer, "content_type": string,
             "created_by": string, "created_at": time],
            required: ["id", "name", "sha256", "size", "content_type"]),
        "Worker": object(
            ["id": string, "name": string, "kind": ["type": "string", "enum": ["cloud", "private"]], "owner_id": nullableString,
             "labels": strings, "slots": integer, "running": integer, "free_slots": integer, "draining": boolean,
             "version": string, "connected_at": time, "last_seen_at": time],
            required: ["id", "name", "kind", "slots"]),
        "AuditEntry": object(
            ["seq": integer, "at": time, "action": string, "actor_id": nullableString, "actor_email": nullableString,
             "target": nullableString, "project_id": nullableString, "detail": anyObject, "address": nullableString],
            required: ["seq", "at", "action"]),
    ]

    private struct Contract {
        var request: JSONValue?
        var responses: [(Int, JSONValue?)]
    }

    private static func contracts(_ operation: APIOperation) -> Contract {
        switch operation {
        case .health: Contract(request: nil, responses: [(200, anyObject)])
        case .login: Contract(request: object(["email": string, "password": string], required: ["email", "password"]), responses: [(200, ref("TokenPair"))])
        case .refresh: Contract(request: object(["refresh_token": string], required: ["refresh_token"]), responses: [(200, ref("TokenPair"))])
        case .logout: Contract(request: nil, responses: [(204, nil)])
        case .me: Contract(request: nil, responses: [(200, ref("User"))])
        case .listUsers: Contract(request: nil, responses: [(200, list("users", of: ref("User")))])
        case .createUser:
            Contract(request: object(["email": string, "password": ["type": "string", "minLength": 8], "name": string,
                                      "role": ["type": "string", "enum": ["admin", "user"]]], required: ["email", "password"]),
                     responses: [(201, ref("User"))])
        case .updateUser:
            Contract(request: object(["role": ["type": "string", "enum": ["admin", "user"]], "disabled": boolean, "name": string,
                                      "password": ["type": "string", "minLength": 8]]),
                     responses: [(200, ref("User"))])
        case .createToken: Contract(request: object(["name": string, "expires_in": integer], required: ["name"]), responses: [(201, ref("PersonalToken"))])
        case .listTokens: Contract(request: nil, responses: [(200, list("tokens", of: ref("PersonalToken")))])
        case .deleteToken, .removeTeamMember, .deleteProject, .removeProjectMember, .deleteFile, .deleteWorkerToken:
            Contract(request: nil, responses: [(204, nil)])
        case .listTeams: Contract(request: nil, responses: [(200, list("teams", of: ref("Team")))])
        case .createTeam: Contract(request: object(["name": string], required: ["name"]), responses: [(201, ref("Team"))])
        case .getTeam: Contract(request: nil, responses: [(200, ref("Team"))])
        case .addTeamMember:
            Contract(request: object(["email": string, "role": ["type": "string", "enum": ["owner", "member"]]], required: ["email"]),
                     responses: [(200, ref("Team"))])
        case .listProjects: Contract(request: nil, responses: [(200, list("projects", of: ref("Project")))])
        case .createProject:
            Contract(request: object(["name": string, "team": string, "allow_network": boolean], required: ["name"]), responses: [(201, ref("Project"))])
        case .updateProject: Contract(request: object(["allow_network": boolean]), responses: [(200, ref("Project"))])
        case .getProject: Contract(request: nil, responses: [(200, ref("Project"))])
        case .setProjectMember:
            Contract(request: object(["email": string, "role": ["type": "string", "enum": ["owner", "editor", "runner", "viewer"]]],
                                     required: ["email", "role"]),
                     responses: [(200, ref("Project"))])
        case .listSkills: Contract(request: nil, responses: [(200, list("skills", of: ref("Skill")))])
        case .createSkill: Contract(request: ref("SkillInput"), responses: [(201, ref("Skill"))])
        case .getSkill: Contract(request: nil, responses: [(200, ref("Skill"))])
        case .createSkillVersion: Contract(request: ref("SkillInput"), responses: [(201, ref("SkillVersion")), (200, ref("SkillVersion"))])
        case .listSkillVersions: Contract(request: nil, responses: [(200, list("versions", of: ref("SkillVersion")))])
        case .getSkillVersion: Contract(request: nil, responses: [(200, ref("SkillVersion"))])
        case .listProviders: Contract(request: nil, responses: [(200, list("providers", of: ref("Provider")))])
        case .createProvider: Contract(request: ref("ProviderInput"), responses: [(201, ref("Provider"))])
        case .getProvider: Contract(request: nil, responses: [(200, ref("Provider"))])
        case .updateProvider: Contract(request: ref("ProviderInput"), responses: [(200, ref("Provider"))])
        case .revealProvider:
            Contract(request: nil, responses: [(200, object(["name": string, "kind": string, "base_url": string, "api_key": string], required: ["api_key"]))])
        case .listAgents: Contract(request: nil, responses: [(200, list("agents", of: ref("Agent")))])
        case .createAgent: Contract(request: ref("AgentInput"), responses: [(201, ref("Agent"))])
        case .getAgent, .updateAgent: Contract(request: operation == .updateAgent ? ref("AgentInput") : nil, responses: [(200, ref("Agent"))])
        case .listAgentVersions: Contract(request: nil, responses: [(200, list("versions", of: anyObject))])
        case .submitJob: Contract(request: ref("JobSubmit"), responses: [(202, ref("Job")), (200, ref("Job"))])
        case .getJob, .cancelJob: Contract(request: nil, responses: [(200, ref("Job"))])
        case .listJobs: Contract(request: nil, responses: [(200, list("jobs", of: ref("Job"), cursor: true))])
        case .createRuns:
            Contract(request: ["oneOf": [ref("RunRecord"), ["type": "array", "items": ref("RunRecord")], object(["runs": ["type": "array", "items": ref("RunRecord")]])]],
                     responses: [(200, list("runs", of: object(["id": string, "job_id": string, "created": boolean])))])
        case .listSessions: Contract(request: nil, responses: [(200, list("sessions", of: ref("Session")))])
        case .createSession: Contract(request: object(["title": string, "agent": string]), responses: [(201, ref("Session"))])
        case .getSession: Contract(request: nil, responses: [(200, ref("Session"))])
        case .listMessages: Contract(request: nil, responses: [(200, list("messages", of: ref("Message"), cursor: true))])
        case .createMessage:
            Contract(request: object(["role": ["type": "string", "enum": ["system", "user", "assistant", "tool"]], "content": string, "job_id": string],
                                     required: ["role", "content"]),
                     responses: [(201, ref("Message"))])
        case .uploadFile: Contract(request: nil, responses: [(201, ref("File"))])
        case .listFiles: Contract(request: nil, responses: [(200, list("files", of: ref("File"), cursor: true))])
        case .getFile: Contract(request: nil, responses: [(200, ref("File"))])
        case .downloadFile: Contract(request: nil, responses: [(200, string)])
        case .listWorkers:
            Contract(request: nil, responses: [(200, object(["workers": ["type": "array", "items": ref("Worker")], "cloud": anyObject], required: ["workers", "cloud"]))])
        case .listWorkerTokens: Contract(request: nil, responses: [(200, list("worker_tokens", of: ref("WorkerToken")))])
        case .createWorkerToken: Contract(request: object(["name": string, "labels": strings], required: ["name"]), responses: [(201, ref("WorkerToken"))])
        case .cluster:
            Contract(request: nil, responses: [(200, object(["bus": strings, "curve_public_key": nullableString, "heartbeat_ms": integer, "server_version": string],
                                                            required: ["bus"]))])
        case .audit: Contract(request: nil, responses: [(200, list("entries", of: ref("AuditEntry"), cursor: true))])
        }
    }
}
