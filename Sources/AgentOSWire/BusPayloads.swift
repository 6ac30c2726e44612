import Foundation

/// How a worker proves who it is in `HELLO`.
public struct WorkerCredential: Codable, Sendable, Equatable {
    /// A cloud worker token (from `<data>/worker-token` or `POST /worker-tokens`).
    public var workerToken: String?
    /// A user's access token, for a private (desktop) worker.
    public var accessToken: String?

    /// A credential of either kind.
    public init(workerToken: String? = nil, accessToken: String? = nil) {
        self.workerToken = workerToken
        self.accessToken = accessToken
    }

    enum CodingKeys: String, CodingKey {
        case workerToken = "worker_token"
        case accessToken = "access_token"
    }
}

/// A job a worker is running, reported in `HELLO` after a reconnect.
public struct RunningJob: Codable, Sendable, Hashable {
    /// The job's id.
    public var jobID: String
    /// The attempt the worker is running.
    public var attempt: Int

    /// A job and attempt.
    public init(jobID: String, attempt: Int) {
        self.jobID = jobID
        self.attempt = attempt
    }

    enum CodingKeys: String, CodingKey {
        case jobID = "job_id"
        case attempt
    }
}

/// `HELLO`: a worker introduces itself.
public struct Hello: Codable, Sendable {
    /// Protocol revision the worker speaks.
    public var protocolVersion: Int
    /// Stable id of this worker process (kept across reconnects).
    public var workerID: String
    /// Human name, unique per owner by convention.
    public var name: String
    /// Software version.
    public var version: String
    /// How many jobs it runs at once.
    public var slots: Int
    /// Labels it carries; a job's labels must all be among them.
    public var labels: [String]
    /// Runtimes it can execute, e.g. `python3`.
    public var runtimes: [String]
    /// Cloud or private.
    public var kind: WorkerKind
    /// Who it is.
    public var credential: WorkerCredential
    /// Jobs it is still running from before a reconnect.
    public var running: [RunningJob]
    /// For a private worker, the names of the folders it shares (`FolderName`), so that
    /// listings show them; absent for none.
    public var folders: [String]?

    /// A complete hello.
    public init(
        protocolVersion: Int = Bus.protocolVersion, workerID: String, name: String, version: String, slots: Int,
        labels: [String], runtimes: [String], kind: WorkerKind, credential: WorkerCredential, running: [RunningJob],
        folders: [String]? = nil
    ) {
        self.protocolVersion = protocolVersion
        self.workerID = workerID
        self.name = name
        self.version = version
        self.slots = slots
        self.labels = labels
        self.runtimes = runtimes
        self.kind = kind
        self.credential = credential
        self.running = running
        self.folders = folders
    }

    enum CodingKeys: String, CodingKey {
        case protocolVersion = "protocol"
        case workerID = "worker_id"
        case name, version, slots, labels, runtimes, kind, credential, running, folders
    }
}

/// `WELCOME`: the server accepted a worker.
public struct Welcome: Codable, Sendable {
    /// Protocol revision the server speaks.
    public var protocolVersion: Int
    /// The worker id the server registered.
    public var workerID: String
    /// Heartbeat interval both sides use, in milliseconds.
    public var heartbeatMS: Int
    /// A peer silent for this many intervals is dead.
    public var deadAfterIntervals: Int
    /// Server software version.
    public var serverVersion: String
    /// With several servers sharing a store: how long a running job stays this server's
    /// without renewal. A worker that hears from no server for half of it stops its runs
    /// (another server will requeue them), and does not report them.
    public var leaseMS: Int?

    /// A complete welcome.
    public init(workerID: String, heartbeatMS: Int, deadAfterIntervals: Int, serverVersion: String, leaseMS: Int? = nil) {
        self.protocolVersion = Bus.protocolVersion
        self.workerID = workerID
        self.heartbeatMS = heartbeatMS
        self.deadAfterIntervals = deadAfterIntervals
        self.serverVersion = serverVersion
        self.leaseMS = leaseMS
    }

    enum CodingKeys: String, CodingKey {
        case protocolVersion = "protocol"
        case workerID = "worker_id"
        case heartbeatMS = "heartbeat_ms"
        case deadAfterIntervals = "dead_after_intervals"
        case serverVersion = "server_version"
        case leaseMS = "lease_ms"
    }
}

/// `REJECT`: why the server will not talk to this connection.
public struct Reject: Codable, Sendable, Error {
    /// Machine-readable reason: `not_registered`, `unavailable` (retry), or the fatal
    /// `unauthorized`, `bad_request`, `unsupported_protocol`, `worker_id_taken`.
    public var code: String
    /// Human explanation.
    public var message: String

    /// A reason and explanation.
    public init(code: String, message: String) {
        self.code = code
        self.message = message
    }

    /// The worker should send `HELLO` again (the server forgot it, e.g. after a restart).
    public static let notRegistered = "not_registered"
    /// The credential is wrong, revoked or expired; retrying will not help.
    public static let unauthorized = "unauthorized"
    /// The hello is malformed or out of bounds.
    public static let badRequest = "bad_request"
    /// The worker speaks another protocol revision.
    public static let unsupportedProtocol = "unsupported_protocol"
    /// Another principal (another user, or cloud vs private) already uses this worker id.
    public static let workerIDTaken = "worker_id_taken"
    /// The server could not decide now (e.g. its database is busy); send `HELLO` again later.
    public static let unavailable = "unavailable"
}

/// The server's `HEARTBEAT`: the heartbeat interval the worker is to use from now on (it
/// only grows while a worker stays connected, as the fleet grows). A worker's own heartbeats
/// carry `{}`.
public struct ServerHeartbeat: Codable, Sendable, Equatable {
    /// The worker's heartbeat interval in milliseconds (absent from an older server).
    public var heartbeatMS: Int?

    /// A heartbeat telling the worker its interval.
    public init(heartbeatMS: Int?) {
        self.heartbeatMS = heartbeatMS
    }

    enum CodingKeys: String, CodingKey {
        case heartbeatMS = "heartbeat_ms"
    }
}

/// An empty body, for a worker's `HEARTBEAT`, `DRAIN` and `BYE`.
public struct EmptyBody: Codable, Sendable {
    /// The empty body.
    public init() {}
}

/// The limits a worker enforces on one job.
public struct JobLimits: Codable, Sendable, Equatable {
    /// Wall-clock seconds before the job's process group is killed.
    public var timeoutSeconds: Double
    /// Bytes of stdout and of stderr kept, each.
    public var maxOutputBytes: Int
    /// Memory (address space) limit in MiB; the engine's default when absent.
    public var memoryMB: Int?
    /// Whether the job may use the network.
    public var network: Bool

    /// Limits with defaults for anything not given.
    public init(timeoutSeconds: Double = 60, maxOutputBytes: Int = 1 << 20, memoryMB: Int? = nil, network: Bool = false) {
        self.timeoutSeconds = timeoutSeconds
        self.maxOutputBytes = maxOutputBytes
        self.memoryMB = memoryMB
        self.network = network
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        timeoutSeconds = try container.decode(Double.self, forKey: .timeoutSeconds)
        maxOutputBytes = try container.decode(Int.self, forKey: .maxOutputBytes)
        memoryMB = try container.decodeIfPresent(Int.self, forKey: .memoryMB)
        network = try container.decodeIfPresent(Bool.self, forKey: .network) ?? false
    }

    enum CodingKeys: String, CodingKey {
        case timeoutSeconds = "timeout_s"
        case maxOutputBytes = "max_output_bytes"
        case memoryMB = "memory_mb"
        case network
    }
}

/// A file a job gets read-only in its work dir, fetched from the gateway.
public struct JobFileRef: Codable, Sendable, Equatable {
    /// File id: `GET /api/v1/files/{id}/content`.
    public var id: String
    /// Name in the job's `files/` dir.
    public var name: String
    /// Hex SHA-256 the fetched bytes must have.
    public var sha256: String
    /// Size in bytes.
    public var size: Int

    /// A complete reference.
    public init(id: String, name: String, sha256: String, size: Int) {
        self.id = id
        self.name = name
        self.sha256 = sha256
        self.size = size
    }
}

/// `JOB`: the server assigns a job to a free slot.
public struct JobAssignment: Codable, Sendable, Equatable {
    /// The job's id.
    public var jobID: String
    /// Which attempt this is (1-based); echoed in `STARTED` and `RESULT`.
    public var attempt: Int
    /// Python source to run.
    public var code: String
    /// Keyword arguments for `main`.
    public var inputs: [String: JSONValue]
    /// Limits to enforce.
    public var limits: JobLimits
    /// The function called with the inputs (default `main`).
    public var entrypoint: String
    /// pip requirements (requirements.txt text); empty for none.
    public var requirements: String
    /// Files to place read-only in the work dir.
    public var files: [JobFileRef]
    /// Bearer token that reads exactly these files, while this attempt runs.
    public var fileToken: String?
    /// Names of the folders the worker shares that the job sees at `/mnt/<name>` (a desktop's
    /// `--dir`); empty for none. A worker that does not share one of them fails the job.
    public var dirs: [String]

    /// A complete assignment.
    public init(
        jobID: String, attempt: Int, code: String, inputs: [String: JSONValue], limits: JobLimits,
        entrypoint: String = "main", requirements: String = "", files: [JobFileRef] = [], fileToken: String? = nil,
        dirs: [String] = []
    ) {
        self.jobID = jobID
        self.attempt = attempt
        self.code = code
        self.inputs = inputs
        self.limits = limits
        self.entrypoint = entrypoint
        self.requirements = requirements
        self.files = files
        self.fileToken = fileToken
        self.dirs = dirs
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        jobID = try container.decode(String.self, forKey: .jobID)
        attempt = try container.decode(Int.self, forKey: .attempt)
        code = try container.decode(String.self, forKey: .code)
        inputs = try container.decode([String: JSONValue].self, forKey: .inputs)
        limits = try container.decode(JobLimits.self, forKey: .limits)
        entrypoint = try container.decodeIfPresent(String.self, forKey: .entrypoint) ?? "main"
        requirements = try container.decodeIfPresent(String.self, forKey: .requirements) ?? ""
        files = try container.decodeIfPresent([JobFileRef].self, forKey: .files) ?? []
        fileToken = try container.decodeIfPresent(String.self, forKey: .fileToken)
        dirs = try container.decodeIfPresent([String].self, forKey: .dirs) ?? []
    }

    /// `dirs` is left out when empty: a worker written before it reads every `JOB` it could
    /// run, and only a job that needs folders depends on a worker that knows the field.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(jobID, forKey: .jobID)
        try container.encode(attempt, forKey: .attempt)
        try container.encode(code, forKey: .code)
        try container.encode(inputs, forKey: .inputs)
        try container.encode(limits, forKey: .limits)
        try container.encode(entrypoint, forKey: .entrypoint)
        try container.encode(requirements, forKey: .requirements)
        try container.encode(files, forKey: .files)
        try container.encodeIfPresent(fileToken, forKey: .fileToken)
        if !dirs.isEmpty { try container.encode(dirs, forKey: .dirs) }
    }

    enum CodingKeys: String, CodingKey {
        case jobID = "job_id"
        case fileToken = "file_token"
        case attempt, code, inputs, limits, entrypoint, requirements, files, dirs
    }
}

/// The outcome of running a job, as a worker reports it in `RESULT`.
public struct JobOutcome: Codable, Sendable, Equatable {
    /// The job's id.
    public var jobID: String
    /// The attempt this outcome belongs to; results of older attempts are ignored.
    public var attempt: Int
    /// `succeeded`, `failed`, `timed_out` or `cancelled`.
    public var status: JobStatus
    /// `main`'s return value.
    public var result: JSONValue?
    /// Captured stdout (capped).
    public var stdout: String
    /// Captured stderr (capped).
    public var stderr: String
    /// The process's exit code, when it exited.
    public var exitCode: Int?
    /// Why it did not succeed, e.g. `timed_out`, `exception: ValueError: …`.
    public var error: String?
    /// Whether stdout or stderr was cut at the limit.
    public var outputTruncated: Bool
    /// Wall time of the run.
    public var durationMS: Int

    /// A complete outcome.
    public init(
        jobID: String, attempt: Int, status: JobStatus, result: JSONValue? = nil, stdout: String = "",
        stderr: String = "", exitCode: Int? = nil, error: String? = nil, outputTruncated: Bool = false,
        durationMS: Int = 0
    ) {
        self.jobID = jobID
        self.attempt = attempt
        self.status = status
        self.result = result
        self.stdout = stdout
        self.stderr = stderr
        self.exitCode = exitCode
        self.error = error
        self.outputTruncated = outputTruncated
        self.durationMS = durationMS
    }

    enum CodingKeys: String, CodingKey {
        case jobID = "job_id"
        case attempt, status, result, stdout, stderr
        case exitCode = "exit_code"
        case error
        case outputTruncated = "output_truncated"
        case durationMS = "duration_ms"
    }
}

/// `PART` (worker → server): one piece of a message whose body is larger than
/// `Bus.maxPartBytes`, sent in order; the server puts them together and handles the message.
public struct MessagePart: Codable, Sendable, Equatable {
    /// The same for every piece of one message.
    public var messageID: String
    /// The command of the whole message (not `HELLO` or `PART`).
    public var command: BusCommand
    /// This piece's place, from 0.
    public var index: Int
    /// How many pieces the message has.
    public var count: Int
    /// This piece of the body, base64.
    public var data: String

    public init(messageID: String, command: BusCommand, index: Int, count: Int, data: String) {
        self.messageID = messageID
        self.command = command
        self.index = index
        self.count = count
        self.data = data
    }

    enum CodingKeys: String, CodingKey {
        case messageID = "message_id"
        case command, index, count, data
    }
}

/// `OUTPUT` (worker → server): what a running job wrote to stdout and stderr since the
/// worker's previous `OUTPUT` for that run. Each stream's text continues at its offset, the
/// UTF-8 bytes of that stream the worker sent for this run before; the server keeps a chunk
/// only when it continues exactly where the stream stands, so what it shows is always a
/// prefix of the output.
public struct JobOutputChunk: Codable, Sendable, Equatable {
    /// The job's id.
    public var jobID: String
    /// The attempt that wrote it.
    public var attempt: Int
    /// UTF-8 bytes of stdout sent for this run before `stdout`.
    public var stdoutOffset: Int
    /// New stdout text (may be empty).
    public var stdout: String
    /// UTF-8 bytes of stderr sent for this run before `stderr`.
    public var stderrOffset: Int
    /// New stderr text (may be empty).
    public var stderr: String

    /// A chunk of both streams.
    public init(jobID: String, attempt: Int, stdoutOffset: Int, stdout: String, stderrOffset: Int, stderr: String) {
        self.jobID = jobID
        self.attempt = attempt
        self.stdoutOffset = stdoutOffset
        self.stdout = stdout
        self.stderrOffset = stderrOffset
        self.stderr = stderr
    }

    enum CodingKeys: String, CodingKey {
        case jobID = "job_id"
        case attempt
        case stdoutOffset = "stdout_offset"
        case stdout
        case stderrOffset = "stderr_offset"
        case stderr
    }
}
