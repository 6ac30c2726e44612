import AgentOSAuth
import AgentOSSandbox
import AgentOSWire
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Synchronization

/// How the standalone sandbox service runs.
public struct SandboxServiceConfiguration: Sendable {
    public var host = "127.0.0.1"
    public var port = 8090
    /// The bearer token every `/execute` must carry.
    public var token: String
    /// Jobs run at once; more get 503.
    public var maxConcurrent = max(1, ProcessInfo.processInfo.activeProcessorCount)
    /// Largest request body.
    public var maxBodyBytes = 8 << 20
    /// Whether a request may ask for the network (`limits.network`).
    public var allowNetwork = false

    public init(token: String) {
        self.token = token
    }
}

/// `agentos sandbox`: the engine as an HTTP service.
///
/// - `GET /healthz` → `{"status": "ok", "sandbox": "bubblewrap"|"none", "running", "max_concurrent"}` (no token).
/// - `POST /execute {code, inputs?, requirements?, entrypoint?, limits?: {timeout_s, memory_mb, max_output_kb, network}}`
///   with `Authorization: Bearer <token>` → 200 `{status, result, stdout, stderr, exit_code, duration_ms, error, output_truncated}`
///   whatever the job did; 400 bad input, 401 wrong or missing token, 403 network not allowed,
///   413 body too large, 503 at the concurrency limit.
public enum SandboxService {
    public static func buildApplication(
        engine: SandboxEngine, configuration: SandboxServiceConfiguration, logger: Logger
    ) -> some ApplicationProtocol {
        Application(
            router: buildRouter(engine: engine, configuration: configuration),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "agentos-sandbox"),
            logger: logger)
    }

    public static func buildRouter(engine: SandboxEngine, configuration: SandboxServiceConfiguration) -> Router<BasicRequestContext> {
        let router = Router()
        let running = Atomic<Int>(0)
        let expectedToken = SHA256.hash(data: Data(configuration.token.utf8))
        router.get("/healthz") { _, _ in
            json(.ok, [
                "status": "ok", "sandbox": .string(engine.isSandboxed ? "bubblewrap" : "none"),
                "running": .number(Double(running.load(ordering: .relaxed))), "max_concurrent": .number(Double(configuration.maxConcurrent)),
            ])
        }
        router.post("/execute") { request, context in
            // Compare digests, so the time taken says nothing about the token.
            let presented = request.headers[.authorization].flatMap { header -> String? in
                header.lowercased().hasPrefix("bearer ") ? String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces) : nil
            }
            guard let presented, SHA256.hash(data: Data(presented.utf8)) == expectedToken else {
                return failure(.unauthorized, "unauthorized", "give the service's token as Authorization: Bearer <token>")
            }
            let body: ByteBuffer
            do {
                body = try await request.body.collect(upTo: configuration.maxBodyBytes)
            } catch {
                return failure(.contentTooLarge, "body_too_large", "the request body is larger than \(configuration.maxBodyBytes) bytes")
            }
            let job: JobAssignment
            do {
                job = try ExecuteRequest.parse(Data(buffer: body), allowNetwork: configuration.allowNetwork)
            } catch let error as ExecuteRequest.Rejected {
                return failure(error.status, error.code, error.message)
            }
            guard running.add(1, ordering: .acquiringAndReleasing).newValue <= configuration.maxConcurrent else {
                running.subtract(1, ordering: .acquiringAndReleasing)
                var response = failure(.serviceUnavailable, "busy", "\(configuration.maxConcurrent) jobs are running; try again shortly")
                response.headers[.retryAfter] = "1"
                return response
            }
            defer { running.subtract(1, ordering: .acquiringAndReleasing) }
            let outcome = await engine.run(job)
            context.logger.info("executed", metadata: ["status": "\(outcome.status.rawValue)", "ms": "\(outcome.durationMS)"])
            return json(.ok, [
                "status": .string(outcome.status.rawValue), "result": outcome.result ?? .null,
                "stdout": .string(outcome.stdout), "stderr": .string(outcome.stderr),
                "exit_code": outcome.exitCode.map { .number(Double($0)) } ?? .null,
                "duration_ms": .number(Double(outcome.durationMS)), "error": outcome.error.map { .string($0) } ?? .null,
                "output_truncated": .bool(outcome.outputTruncated),
            ])
        }
        return router
    }

    static func json(_ status: HTTPResponse.Status, _ fields: [String: JSONValue]) -> Response {
        Response(
            status: status, headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: JSONValue.object(fields).encoded())))
    }

    static func failure(_ status: HTTPResponse.Status, _ code: String, _ message: String) -> Response {
        json(status, ["error": ["code": .string(code), "message": .string(message)]])
    }
}

/// The body of `POST /execute`, checked field by field.
enum ExecuteRequest {
    struct Rejected: Error {
        let status: HTTPResponse.Status
        let code: String
        let message: String

        static func invalid(_ message: String) -> Rejected { Rejected(status: .badRequest, code: "invalid_request", message: message) }
    }

    static func parse(_ data: Data, allowNetwork: Bool) throws(Rejected) -> JobAssignment {
        guard let body = try? JSONValue.parse(data), case .object(let fields) = body else {
            throw .invalid("the body must be a JSON object: {\"code\": \"...\", \"inputs\": {...}}")
        }
        guard case .string(let code)? = fields["code"], !code.isEmpty else { throw .invalid("code must be a non-empty string of Python") }
        var inputs: [String: JSONValue] = [:]
        switch fields["inputs"] {
        case nil, .null?: break
        case .object(let object)?: inputs = object
        default: throw .invalid("inputs must be an object")
        }
        var requirements = ""
        switch fields["requirements"] {
        case nil, .null?: break
        case .string(let text)?: requirements = text
        case .array(let lines)?:
            let strings = lines.compactMap(\.stringValue)
            guard strings.count == lines.count else { throw .invalid("requirements must be text or an array of strings") }
            requirements = strings.joined(separator: "\n")
        default: throw .invalid("requirements must be text or an array of strings")
        }
        do {
            _ = try PythonRequirements(parsing: requirements)
        } catch {
            throw .invalid(error.description)
        }
        var entrypoint = "main"
        if let value = fields["entrypoint"], !value.isNull {
            guard let name = value.stringValue, name.range(of: "^[A-Za-z_][A-Za-z0-9_]{0,99}$", options: .regularExpression) != nil else {
                throw .invalid("entrypoint must be a Python function name")
            }
            entrypoint = name
        }
        var limits = JobLimits(timeoutSeconds: 30)
        switch fields["limits"] {
        case nil, .null?: break
        case .object(let given)?:
            if let value = given["timeout_s"], !value.isNull {
                guard let seconds = value.doubleValue, seconds > 0, seconds <= 3600 else { throw .invalid("limits.timeout_s must be a number of seconds, at most 3600") }
                limits.timeoutSeconds = seconds
            }
            if let value = given["memory_mb"], !value.isNull {
                guard let megabytes = value.intValue, (16...65_536).contains(megabytes) else { throw .invalid("limits.memory_mb must be an integer from 16 to 65536") }
                limits.memoryMB = megabytes
            }
            if let value = given["max_output_kb"], !value.isNull {
                guard let kilobytes = value.intValue, (1...65_536).contains(kilobytes) else { throw .invalid("limits.max_output_kb must be an integer from 1 to 65536") }
                limits.maxOutputBytes = kilobytes * 1024
            }
            if let value = given["network"], !value.isNull {
                guard let network = value.boolValue else { throw .invalid("limits.network must be true or false") }
                guard !network || allowNetwork else {
                    throw Rejected(status: .forbidden, code: "network_not_allowed", message: "this service was not started with --allow-network")
                }
                limits.network = network
            }
        default: throw .invalid("limits must be an object")
        }
        return JobAssignment(
            jobID: UUID().uuidString.lowercased(), attempt: 1, code: code, inputs: inputs, limits: limits,
            entrypoint: entrypoint, requirements: requirements)
    }
}
