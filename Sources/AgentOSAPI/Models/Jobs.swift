import AgentOSWire
import Foundation

extension Schemas {
    /// A file given to a job, as the job sees it under `files/`.
    public struct JobFileRef: APISchema, Equatable {
        public var id: String
        public var name: String
        public var sha256: String
        public var size: Int

        public init(
            id: String, name: String, sha256: String, size: Int
        ) {
            self.id = id
            self.name = name
            self.sha256 = sha256
            self.size = size
        }
    }

    /// A job: what was asked, where it runs, and how it ended.
    public struct Job: APISchema, Equatable {
        public static var fieldSchemas: [String: JSONValue] {
            [
                "dirs": ["description": "Names of the folders its desktop shares that the job sees at /mnt/<name>; empty for none"],
            ]
        }

        public var id: String
        public var project: String
        public var status: JobStatus
        public var origin: JobOrigin
        @Nullable public var skill: String?
        @Nullable public var version: Int?
        public var entrypoint: String
        @Nullable public var sessionID: String?
        public var inputs: [String: JSONValue]
        public var target: JobTarget
        @Nullable public var worker: String?
        @Nullable public var workerID: String?
        @Nullable public var requestedWorker: String?
        public var labels: [String]
        public var dirs: [String]
        public var limits: Limits
        public var priority: Int
        public var attempts: Int
        public var maxAttempts: Int
        public var result: JSONValue
        /// Captured output; not in list items (`GET /jobs/{id}` has it).
        public var stdout: String?
        /// As `stdout`.
        public var stderr: String?
        public var outputTruncated: Bool
        @Nullable public var exitCode: Int?
        @Nullable public var error: String?
        public var submittedBy: String
        @Nullable public var idempotencyKey: String?
        public var createdAt: Date
        @Nullable public var startedAt: Date?
        @Nullable public var finishedAt: Date?
        @Nullable public var durationMS: Int?
        /// For a run record (`origin` local): the desktop's run id.
        public var clientRunID: String?
        /// For a run record (`origin` local): the device it ran on, when the desktop said.
        public var device: String?
        /// In a single-job answer.
        public var files: [JobFileRef]?
        /// Why a queued job may wait, in the submit answer.
        public var warnings: [String]?

        public init(
            id: String, project: String, status: JobStatus, origin: JobOrigin, skill: String? = nil, version: Int? = nil,
            entrypoint: String, sessionID: String? = nil, inputs: [String: JSONValue], target: JobTarget,
            worker: String? = nil, workerID: String? = nil, requestedWorker: String? = nil, labels: [String], dirs: [String] = [],
            limits: Limits, priority: Int, attempts: Int, maxAttempts: Int, result: JSONValue, stdout: String? = nil,
            stderr: String? = nil, outputTruncated: Bool, exitCode: Int? = nil, error: String? = nil,
            submittedBy: String, idempotencyKey: String? = nil, createdAt: Date, startedAt: Date? = nil,
            finishedAt: Date? = nil, durationMS: Int? = nil, clientRunID: String? = nil, device: String? = nil,
            files: [JobFileRef]? = nil, warnings: [String]? = nil
        ) {
            self.id = id
            self.project = project
            self.status = status
            self.origin = origin
            self.skill = skill
            self.version = version
            self.entrypoint = entrypoint
            self.sessionID = sessionID
            self.inputs = inputs
            self.target = target
            self.worker = worker
            self.workerID = workerID
            self.requestedWorker = requestedWorker
            self.labels = labels
            self.dirs = dirs
            self.limits = limits
            self.priority = priority
            self.attempts = attempts
            self.maxAttempts = maxAttempts
            self.result = result
            self.stdout = stdout
            self.stderr = stderr
            self.outputTruncated = outputTruncated
            self.exitCode = exitCode
            self.error = error
            self.submittedBy = submittedBy
            self.idempotencyKey = idempotencyKey
            self.createdAt = createdAt
            self.startedAt = startedAt
            self.finishedAt = finishedAt
            self.durationMS = durationMS
            self.clientRunID = clientRunID
            self.device = device
            self.files = files
            self.warnings = warnings
        }

        enum CodingKeys: String, CodingKey {
            case id
            case project
            case status
            case origin
            case skill
            case version
            case entrypoint
            case sessionID = "session_id"
            case inputs
            case target
            case worker
            case workerID = "worker_id"
            case requestedWorker = "requested_worker"
            case labels
            case dirs
            case limits
            case priority
            case attempts
            case maxAttempts = "max_attempts"
            case result
            case stdout
            case stderr
            case outputTruncated = "output_truncated"
            case exitCode = "exit_code"
            case error
            case submittedBy = "submitted_by"
            case idempotencyKey = "idempotency_key"
            case createdAt = "created_at"
            case startedAt = "started_at"
            case finishedAt = "finished_at"
            case durationMS = "duration_ms"
            case clientRunID = "client_run_id"
            case device
            case files
            case warnings
        }
    }

    /// `GET /projects/{project}/jobs`, newest first.
    public struct JobList: APISchema, Equatable {
        public var jobs: [Job]
        @Nullable public var nextCursor: String?

        public init(
            jobs: [Job], nextCursor: String? = nil
        ) {
            self.jobs = jobs
            self.nextCursor = nextCursor
        }

        enum CodingKeys: String, CodingKey {
            case jobs
            case nextCursor = "next_cursor"
        }
    }

    /// `POST /projects/{project}/jobs`: a skill (at a version, by default the latest) or code, with inputs.
    public struct JobSubmit: APISchema, Equatable {
        public static var fieldSchemas: [String: JSONValue] {
            [
                "dirs": [
                    "description": """
                        Folders the job sees at /mnt/<name>, by the names the desktop that runs it shares them under \
                        (`agentos desktop attach --dir PATH[:rw]`: a folder's last path component), read-only unless shared :rw. \
                        Only with target private; a desktop that shares no folder of one of these names fails the job \
                        with folder_not_shared
                        """,
                    "maxItems": .number(Double(FolderName.maxPerJob)), "uniqueItems": true,
                    "items": ["type": "string", "pattern": "^(?!\\.{1,2}$)[A-Za-z0-9._-]{1,64}$"],
                ],
            ]
        }

        public var skill: String?
        public var version: Int?
        public var code: String?
        public var inputs: [String: JSONValue]?
        public var target: JobTarget?
        public var worker: String?
        public var labels: [String]?
        public var dirs: [String]?
        public var limits: LimitsInput?
        public var files: [FileSelection]?
        public var sessionID: String?
        public var idempotencyKey: String?
        public var priority: Int?
        public var maxAttempts: Int?

        public init(
            skill: String? = nil, version: Int? = nil, code: String? = nil, inputs: [String: JSONValue]? = nil,
            target: JobTarget? = nil, worker: String? = nil, labels: [String]? = nil, dirs: [String]? = nil, limits: LimitsInput? = nil,
            files: [FileSelection]? = nil, sessionID: String? = nil, idempotencyKey: String? = nil, priority: Int? = nil,
            maxAttempts: Int? = nil
        ) {
            self.skill = skill
            self.version = version
            self.code = code
            self.inputs = inputs
            self.target = target
            self.worker = worker
            self.labels = labels
            self.dirs = dirs
            self.limits = limits
            self.files = files
            self.sessionID = sessionID
            self.idempotencyKey = idempotencyKey
            self.priority = priority
            self.maxAttempts = maxAttempts
        }

        enum CodingKeys: String, CodingKey {
            case skill
            case version
            case code
            case inputs
            case target
            case worker
            case labels
            case dirs
            case limits
            case files
            case sessionID = "session_id"
            case idempotencyKey = "idempotency_key"
            case priority
            case maxAttempts = "max_attempts"
        }
    }

    /// SSE `status` (`GET /jobs/{id}/events`): the job moved on.
    public struct JobStatusEvent: APISchema, Equatable {
        public var id: String
        public var status: JobStatus
        public var attempts: Int
        @Nullable public var worker: String?

        public init(
            id: String, status: JobStatus, attempts: Int, worker: String? = nil
        ) {
            self.id = id
            self.status = status
            self.attempts = attempts
            self.worker = worker
        }
    }

    /// SSE `output`: what the job printed next, while it runs and once more when it ends.
    /// Concatenated in order, a stream's pieces of one attempt are its whole output.
    public struct JobOutputEvent: APISchema, Equatable {
        public static var fieldSchemas: [String: JSONValue] {
            [
                "stdout_offset": ["description": "UTF-8 bytes of stdout before this piece, in this attempt's output"],
                "stderr_offset": ["description": "UTF-8 bytes of stderr before this piece"],
                "final": ["description": "true on the last output event, sent when the job has ended, with the rest of its stored output"],
            ]
        }

        public var stdout: String
        public var stderr: String
        public var outputTruncated: Bool
        public var attempt: Int?
        public var stdoutOffset: Int?
        public var stderrOffset: Int?
        public var final: Bool?

        public init(
            stdout: String, stderr: String, outputTruncated: Bool, attempt: Int? = nil, stdoutOffset: Int? = nil,
            stderrOffset: Int? = nil, final: Bool? = nil
        ) {
            self.stdout = stdout
            self.stderr = stderr
            self.outputTruncated = outputTruncated
            self.attempt = attempt
            self.stdoutOffset = stdoutOffset
            self.stderrOffset = stderrOffset
            self.final = final
        }

        enum CodingKeys: String, CodingKey {
            case stdout
            case stderr
            case outputTruncated = "output_truncated"
            case attempt
            case stdoutOffset = "stdout_offset"
            case stderrOffset = "stderr_offset"
            case final
        }
    }

    /// `GET /jobs/{id}/output`: the job (without its output fields) and its output after the
    /// offsets asked for, in UTF-8 bytes of each stream. While the job runs this is the output
    /// its worker has streamed so far; once it has ended, the stored, authoritative output.
    /// When `job.attempts` is not the attempt asked for, the offsets start again at 0.
    public struct JobOutputPage: APISchema, Equatable {
        public static var fieldSchemas: [String: JSONValue] {
            [
                "stdout_offset": ["description": "Where `stdout` starts: UTF-8 bytes of this attempt's stdout before it"],
                "next_stdout_offset": ["description": "Pass as stdout_offset to read on"],
                "stderr_offset": ["description": "Where `stderr` starts"],
                "next_stderr_offset": ["description": "Pass as stderr_offset to read on"],
            ]
        }

        public var job: Job
        public var stdout: String
        public var stderr: String
        public var stdoutOffset: Int
        public var stderrOffset: Int
        public var nextStdoutOffset: Int
        public var nextStderrOffset: Int

        public init(
            job: Job, stdout: String, stderr: String, stdoutOffset: Int, stderrOffset: Int, nextStdoutOffset: Int, nextStderrOffset: Int
        ) {
            self.job = job
            self.stdout = stdout
            self.stderr = stderr
            self.stdoutOffset = stdoutOffset
            self.stderrOffset = stderrOffset
            self.nextStdoutOffset = nextStdoutOffset
            self.nextStderrOffset = nextStderrOffset
        }

        enum CodingKeys: String, CodingKey {
            case job
            case stdout
            case stderr
            case stdoutOffset = "stdout_offset"
            case stderrOffset = "stderr_offset"
            case nextStdoutOffset = "next_stdout_offset"
            case nextStderrOffset = "next_stderr_offset"
        }
    }

    /// SSE `result`: how the job ended; the stream then closes.
    public struct JobResultEvent: APISchema, Equatable {
        public var status: JobStatus
        public var result: JSONValue
        @Nullable public var error: String?
        @Nullable public var exitCode: Int?
        @Nullable public var durationMS: Int?

        public init(
            status: JobStatus, result: JSONValue, error: String? = nil, exitCode: Int? = nil, durationMS: Int? = nil
        ) {
            self.status = status
            self.result = result
            self.error = error
            self.exitCode = exitCode
            self.durationMS = durationMS
        }

        enum CodingKeys: String, CodingKey {
            case status
            case result
            case error
            case exitCode = "exit_code"
            case durationMS = "duration_ms"
        }
    }

    /// SSE `error`: the stream cannot go on (the job went out of reach, or the server did).
    public struct StreamError: APISchema, Equatable {
        public var message: String

        public init(
            message: String
        ) {
            self.message = message
        }
    }

    /// A run a desktop made locally, as it posts it (`POST /projects/{project}/runs`).
    public struct RunRecord: APISchema, Equatable {
        public static var fieldSchemas: [String: JSONValue] {
            [
                "status": ["enum": ["succeeded", "failed", "timed_out", "cancelled"]],
            ]
        }

        public var id: String
        public var skill: String?
        public var version: Int?
        public var code: String?
        public var inputs: [String: JSONValue]?
        public var status: JobStatus
        public var result: JSONValue?
        public var stdout: String?
        public var stderr: String?
        public var exitCode: Int?
        public var error: String?
        public var startedAt: Date?
        public var finishedAt: Date?
        public var device: String?
        /// Whether the desktop cut something to fit the API (output, or a result too large).
        public var outputTruncated: Bool?
        /// The folders shared with the run, by name (`/mnt/<name>`).
        public var dirs: [String]?

        public init(
            id: String, skill: String? = nil, version: Int? = nil, code: String? = nil,
            inputs: [String: JSONValue]? = nil, status: JobStatus, result: JSONValue? = nil, stdout: String? = nil,
            stderr: String? = nil, exitCode: Int? = nil, error: String? = nil, startedAt: Date? = nil,
            finishedAt: Date? = nil, device: String? = nil, outputTruncated: Bool? = nil, dirs: [String]? = nil
        ) {
            self.id = id
            self.skill = skill
            self.version = version
            self.code = code
            self.inputs = inputs
            self.status = status
            self.result = result
            self.stdout = stdout
            self.stderr = stderr
            self.exitCode = exitCode
            self.error = error
            self.startedAt = startedAt
            self.finishedAt = finishedAt
            self.device = device
            self.outputTruncated = outputTruncated
            self.dirs = dirs
        }

        enum CodingKeys: String, CodingKey {
            case id
            case skill
            case version
            case code
            case inputs
            case status
            case result
            case stdout
            case stderr
            case exitCode = "exit_code"
            case error
            case startedAt = "started_at"
            case finishedAt = "finished_at"
            case device
            case outputTruncated = "output_truncated"
            case dirs
        }
    }

    /// What became of one posted run record.
    public struct RunReceipt: APISchema, Equatable {
        public var id: String
        public var jobID: String
        public var created: Bool

        public init(
            id: String, jobID: String, created: Bool
        ) {
            self.id = id
            self.jobID = jobID
            self.created = created
        }

        enum CodingKeys: String, CodingKey {
            case id
            case jobID = "job_id"
            case created
        }
    }

    /// The answer to `POST /projects/{project}/runs`, in the order posted.
    public struct RunReceipts: APISchema, Equatable {
        public var runs: [RunReceipt]

        public init(
            runs: [RunReceipt]
        ) {
            self.runs = runs
        }
    }
}
