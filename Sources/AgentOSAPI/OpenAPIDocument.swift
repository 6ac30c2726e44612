import AgentOSWire

/// The OpenAPI 3 document of `/api/v1`, built from `APIRoutes.all` and each operation's
/// `contract`: the schemas are derived from the body types (`SchemaRecorder`), so the
/// document, the server and the clients cannot disagree. A test checks that it names every
/// route the router serves, and the tests check live responses against it, strictly.
public enum OpenAPIDocument {
    /// Where the gateway serves it.
    public static let path = "/api/v1/openapi.json"
    /// The gateway's Server-Sent Events stream of a job.
    public static let jobEventsPath = "/api/v1/jobs/:id/events"

    /// The whole document.
    public static let json: JSONValue = {
        let recorder = SchemaRecorder()
        _ = try? recorder.schema(for: Schemas.ErrorBody.self)
        // The data of the job event stream's events, which no operation answers directly.
        for event in [Schemas.JobStatusEvent.self, Schemas.JobOutputEvent.self, Schemas.JobResultEvent.self, Schemas.StreamError.self] as [any APIBody.Type] {
            _ = try? recorder.schema(for: event)
        }
        var paths: [String: JSONValue] = [:]
        for route in APIRoutes.all {
            let path = openAPIPath(route.path)
            var item = paths[path]?.objectValue ?? [:]
            item[route.method.lowercased()] = operation(route, recorder: recorder)
            paths[path] = .object(item)
        }
        paths[path] = ["get": [
            "operationId": "openapi", "summary": "This document", "tags": ["meta"], "security": [],
            "responses": ["200": ["description": "OpenAPI 3 document", "content": ["application/json": ["schema": ["type": "object"]]]]],
        ]]
        paths[openAPIPath(jobEventsPath)] = ["get": [
            "operationId": "jobs.events", "tags": ["jobs"],
            "summary": "A job's life as Server-Sent Events, pushed as it happens: status changes, output while it runs, then the rest of its output and its result; the stream then closes",
            "description": """
                Events, in order: `status` (the job's status now), then, whenever the status or attempt changes, another `status`; \
                while the job runs, an `output` for each piece of output its worker streams (`stdout` and `stderr` hold the new text \
                only; `stdout_offset` and `stderr_offset` say where it starts in that attempt's output); when the job has ended, one \
                last `output` with `final: true` holding the rest of its stored output (all of it when nothing was streamed, as from \
                a worker that does not stream), then `result`, and the stream closes. Concatenated, the `output` events of one \
                attempt are its whole output; a `status` with a new `attempts` means the output starts over. Every event but \
                `error` has an `id:`; reconnecting with that id in `Last-Event-ID` resumes after it, with nothing repeated or lost. \
                Resuming after the `result` answers 204, so an EventSource stops. A stream open for an hour ends without a result; \
                `error` ends a stream that cannot go on.
                """,
            "parameters": [
                ["name": "id", "in": "path", "required": true, "schema": ["type": "string"]],
                ["name": "Last-Event-ID", "in": "header", "required": false, "schema": ["type": "string"],
                 "description": "The id of the last event received: the stream resumes after it"],
            ],
            "responses": [
                "204": ["description": "Last-Event-ID was the stream's result event: there is nothing more"],
                "200": ["description": "text/event-stream with events status (JobStatusEvent), output (JobOutputEvent), result (JobResultEvent), and error (StreamError)",
                        "content": ["text/event-stream": [
                            // One event of the stream, as an SSE parser reads it.
                            "schema": [
                                "type": "object", "required": ["event", "data"],
                                "description": "One Server-Sent Event: `event` names one of x-events, and `data` is JSON of that schema",
                                "properties": [
                                    "event": ["type": "string", "enum": ["status", "output", "result", "error"]],
                                    "data": ["type": "string", "description": "JSON of the schema x-events names for this event"],
                                    "id": ["type": "string"],
                                    "retry": ["type": "integer"],
                                ],
                            ],
                            // OpenAPI 3.0 has no schema for a stream of events; this extension
                            // names each event's data schema (3.2 calls it itemSchema).
                            "x-events": [
                                "status": ref("JobStatusEvent"), "output": ref("JobOutputEvent"), "result": ref("JobResultEvent"),
                                "error": ref("StreamError"),
                            ],
                        ]]],
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
        let health = (try? recorder.schema(for: Schemas.GatewayHealth.self)) ?? ["type": "object"]
        paths["/healthz"] = ["get": [
            "operationId": "healthz", "summary": "Gateway and server reachable", "tags": ["meta"], "security": [],
            "responses": [
                "200": ["description": "Both are up", "content": ["application/json": ["schema": health]]],
                "503": ["description": "The server is unreachable, or too many connections",
                        "content": ["application/json": ["schema": ["anyOf": [health, ref("Error")]]]]],
            ],
        ]]
        // The routes outside the table can get the connection guard's answers too.
        for route in [path, openAPIPath(jobEventsPath), "/metrics", "/healthz"] {
            guard var operation = paths[route]?["get"]?.objectValue, var responses = operation["responses"]?.objectValue else { continue }
            for status in APIOperation.connectionErrorStatuses where responses[String(status)] == nil {
                responses[String(status)] = errorResponse(status)
            }
            operation["responses"] = .object(responses)
            paths[route] = ["get": .object(operation)]
        }
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
                "schemas": .object(recorder.components),
            ],
        ]
    }()

    /// `/projects/:project` → `/projects/{project}`.
    public static func openAPIPath(_ routerPath: String) -> String {
        routerPath.split(separator: "/", omittingEmptySubsequences: false).map { part in
            part.hasPrefix(":") ? "{\(part.dropFirst())}" : String(part)
        }.joined(separator: "/")
    }

    private static func operation(_ route: APIRoute, recorder: SchemaRecorder) -> JSONValue {
        let contract = route.operation.contract
        func schema(_ type: (any APIBody.Type)?) -> JSONValue? {
            type.map { (try? recorder.schema(for: $0)) ?? ["type": "object"] }
        }
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
            fields["requestBody"] = ["required": true, "content": ["application/json": ["schema": schema(contract.request) ?? ["type": "object"]]]]
        case .raw:
            fields["requestBody"] = ["required": true, "content": ["application/octet-stream": ["schema": ["type": "string", "format": "binary"]]]]
        }
        if [.login, .refresh].contains(route.operation) { fields["security"] = [] }
        var responses: [String: JSONValue] = [:]
        for (status, body) in contract.responses {
            var response: [String: JSONValue] = ["description": .string(description(status))]
            if route.operation == .downloadFile && status == 200 {
                response["content"] = ["application/octet-stream": ["schema": ["type": "string", "format": "binary"]]]
            } else if let body = schema(body) {
                response["content"] = ["application/json": ["schema": body]]
            }
            responses[String(status)] = .object(response)
        }
        for status in route.operation.errorStatuses where responses[String(status)] == nil {
            responses[String(status)] = errorResponse(status)
        }
        fields["responses"] = .object(responses)
        return .object(fields)
    }

    private static func errorResponse(_ status: Int) -> JSONValue {
        ["description": .string(description(status)), "content": ["application/json": ["schema": ref("Error")]]]
    }

    private static func description(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 201: "Created"
        case 202: "Accepted: queued"
        case 204: "Done, no content"
        case 400: "Invalid input, or a request that is not valid HTTP/1.1"
        case 401: "Not authenticated"
        case 403: "Not allowed"
        case 404: "Not found (also for projects you are not a member of)"
        case 408: "The request head or body did not arrive in time; the connection closes"
        case 409: "Conflict"
        case 410: "Gone: the server lost the bytes"
        case 413: "Body too large"
        case 429: "Rate limited; see Retry-After"
        case 431: "The request line and headers are too large"
        case 503: "Overloaded, too many connections (see Retry-After), or the server is unreachable"
        default: "Response"
        }
    }

    private static func queryParameterSchema(_ name: String) -> JSONValue {
        switch name {
        case "wait": ["type": "number", "minimum": 0, "maximum": 300]
        case "limit": ["type": "integer", "minimum": 1]
        case "after": ["type": "integer", "minimum": 0]
        case "status": JobStatus.jsonSchema
        case "origin": JobOrigin.jsonSchema
        case "updated_since": ["type": "string", "format": "date-time"]
        default: ["type": "string"]
        }
    }

    static func ref(_ name: String) -> JSONValue { ["$ref": .string("#/components/schemas/\(name)")] }
}

extension OpenAPIDocument {
    /// Why an answer does not match the document.
    public struct Mismatch: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// Checks an answer of `operation` strictly against the document: its status is one the
    /// operation documents, and its JSON body matches the schema documented for that status,
    /// with no property the schema does not list.
    public static func check(_ operation: APIOperation, status: Int, body: JSONValue?) throws(Mismatch) {
        guard let route = APIRoutes.all.first(where: { $0.operation == operation }),
            let responses = json["paths"]?[openAPIPath(route.path)]?[route.method.lowercased()]?["responses"]
        else { throw Mismatch(description: "\(operation.rawValue) is not in the document") }
        guard let response = responses[String(status)] else {
            throw Mismatch(description: "\(operation.rawValue) answered \(status), which it does not document")
        }
        guard let schema = response["content"]?["application/json"]?["schema"] else {
            if let body, !body.isNull, status == 204 { throw Mismatch(description: "\(operation.rawValue) \(status) has a body") }
            return
        }
        guard let body else { throw Mismatch(description: "\(operation.rawValue) \(status) has no JSON body") }
        do {
            try JSONSchema(schema, root: json, strict: true).validate(body)
        } catch {
            throw Mismatch(description: "\(operation.rawValue) \(status): \(error)")
        }
    }
}
