import AgentOSAPI
import AgentOSAuth
import AgentOSHTTPServer
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
    /// What a connection may send and how it ends.
    public var http = HTTPServerLimits()

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
///
/// Connections are guarded as the gateway's are (`HTTPServerLimits`): malformed framing `400`,
/// heads over the limits `431`, header and idle timeouts (`408`), connection caps (`503`).
public enum SandboxService {
    /// The service; `onListening` hears the port it listens on once it does.
    public static func buildApplication(
        engine: SandboxEngine, configuration: SandboxServiceConfiguration, logger: Logger,
        onListening: @escaping @Sendable (_ port: Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        Application(
            router: buildRouter(engine: engine, configuration: configuration),
            server: .guardedHTTP1(configuration.http),
            configuration: configuration.http.applicationConfiguration(
                host: configuration.host, port: configuration.port, serverName: "agentos-sandbox"),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? configuration.port) },
            logger: logger)
    }

    public static func buildRouter(engine: SandboxEngine, configuration: SandboxServiceConfiguration) -> Router<BasicRequestContext> {
        let router = Router()
        let running = Atomic<Int>(0)
        let expectedToken = SHA256.hash(data: Data(configuration.token.utf8))
        router.get("/healthz") { _, _ in
            json(.ok, Schemas.SandboxHealth(
                status: "ok", sandbox: engine.isSandboxed ? "bubblewrap" : "none", running: running.load(ordering: .relaxed),
                maxConcurrent: configuration.maxConcurrent))
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
                body = try await request.readBody(
                    upTo: configuration.maxBodyBytes, tooLarge: "the request body is larger than \(configuration.maxBodyBytes) bytes")
            } catch let answer as ErrorAnswer {
                return answer.response
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
            return json(.ok, Schemas.ExecuteResult(
                status: outcome.status, result: outcome.result ?? .null, stdout: outcome.stdout, stderr: outcome.stderr,
                exitCode: outcome.exitCode, durationMS: outcome.durationMS, error: outcome.error, outputTruncated: outcome.outputTruncated))
        }
        return router
    }

    static func json(_ status: HTTPResponse.Status, _ body: some Encodable) -> Response {
        Response(
            status: status, headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: (try? APICoding.encode(body)) ?? Data("{}".utf8))))
    }

    static func failure(_ status: HTTPResponse.Status, _ code: String, _ message: String) -> Response {
        json(status, Schemas.ErrorBody(code: code, message: message))
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
        let body: Schemas.ExecuteRequest
        let given: Schemas.LimitsInput
        do {
            body = try APICoding.decode(Schemas.ExecuteRequest.self, from: data)
            given = try LimitRanges.sandboxService.check(body.limits ?? Schemas.LimitsInput())
        } catch {
            throw .invalid(error.path.isEmpty && error.message.contains("JSON")
                ? "the body must be a JSON object: {\"code\": \"...\", \"inputs\": {...}}" : error.description)
        }
        guard !body.code.isEmpty else { throw .invalid("code must be a non-empty string of Python") }
        let requirements = body.requirements?.text ?? ""
        do {
            _ = try PythonRequirements(parsing: requirements)
        } catch {
            throw .invalid(error.description)
        }
        let entrypoint = body.entrypoint ?? "main"
        guard entrypoint.range(of: "^[A-Za-z_][A-Za-z0-9_]{0,99}$", options: .regularExpression) != nil else {
            throw .invalid("entrypoint must be a Python function name")
        }
        if given.network == true, !allowNetwork {
            throw Rejected(status: .forbidden, code: "network_not_allowed", message: "this service was not started with --allow-network")
        }
        // A local request waits for its answer: 30 s unless it asks for more.
        let limits = given.over(Schemas.LimitsInput(timeoutSeconds: 30)).resolved
        return JobAssignment(
            jobID: UUID().uuidString.lowercased(), attempt: 1, code: body.code, inputs: body.inputs ?? [:], limits: limits,
            entrypoint: entrypoint, requirements: requirements)
    }
}
