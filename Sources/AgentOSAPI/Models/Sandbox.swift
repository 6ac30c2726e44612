import AgentOSWire
import Foundation

extension Schemas {
    /// `agentos sandbox`: `POST /execute`, run code once in a sandbox and answer how it ended.
    public struct ExecuteRequest: APISchema, Equatable {
        public var code: String
        public var inputs: [String: JSONValue]?
        public var requirements: Requirements?
        public var entrypoint: String?
        public var limits: LimitsInput?

        public init(
            code: String, inputs: [String: JSONValue]? = nil, requirements: Requirements? = nil,
            entrypoint: String? = nil, limits: LimitsInput? = nil
        ) {
            self.code = code
            self.inputs = inputs
            self.requirements = requirements
            self.entrypoint = entrypoint
            self.limits = limits
        }
    }

    /// `agentos sandbox`: `GET /healthz`.
    public struct SandboxHealth: APISchema, Equatable {
        public static var fieldSchemas: [String: JSONValue] {
            [
                "sandbox": ["enum": ["bubblewrap", "none"]],
            ]
        }

        public var status: String
        public var sandbox: String
        public var running: Int
        public var maxConcurrent: Int

        public init(
            status: String, sandbox: String, running: Int, maxConcurrent: Int
        ) {
            self.status = status
            self.sandbox = sandbox
            self.running = running
            self.maxConcurrent = maxConcurrent
        }

        enum CodingKeys: String, CodingKey {
            case status
            case sandbox
            case running
            case maxConcurrent = "max_concurrent"
        }
    }

    /// The answer of `POST /execute`: the outcome, whatever it was (a failed job is still a 200).
    public struct ExecuteResult: APISchema, Equatable {
        public var status: JobStatus
        public var result: JSONValue
        public var stdout: String
        public var stderr: String
        @Nullable public var exitCode: Int?
        public var durationMS: Int
        @Nullable public var error: String?
        public var outputTruncated: Bool

        public init(
            status: JobStatus, result: JSONValue, stdout: String, stderr: String, exitCode: Int? = nil, durationMS: Int,
            error: String? = nil, outputTruncated: Bool
        ) {
            self.status = status
            self.result = result
            self.stdout = stdout
            self.stderr = stderr
            self.exitCode = exitCode
            self.durationMS = durationMS
            self.error = error
            self.outputTruncated = outputTruncated
        }

        enum CodingKeys: String, CodingKey {
            case status
            case result
            case stdout
            case stderr
            case exitCode = "exit_code"
            case durationMS = "duration_ms"
            case error
            case outputTruncated = "output_truncated"
        }
    }
}
