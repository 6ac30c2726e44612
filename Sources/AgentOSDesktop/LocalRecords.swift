import AgentOSWire
import Foundation
import GRDB

/// A project of the account, as the last sync saw it.
public struct LocalProject: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "projects"

    public var account: String
    public var id: String
    public var name: String
    public var role: String?
    /// Whether its jobs may use the network (when a skill asks).
    public var allowNetwork: Bool?
    /// False once the server stopped listing it for this account (access lost).
    public var accessible: Bool
    public var syncedAt: Date

    enum CodingKeys: String, CodingKey {
        case account, id, name, role, accessible
        case allowNetwork = "allow_network"
        case syncedAt = "synced_at"
    }
}

/// One version of a skill, as synced: immutable, so fetched once.
public struct LocalSkillVersion: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "skill_versions"

    public var account: String
    public var projectID: String
    public var skill: String
    public var version: Int
    public var description: String
    public var code: String
    public var entrypoint: String
    public var requirements: String
    /// JSON text of the input schema, when the skill has one.
    public var inputSchema: String?
    /// JSON text of the version's limits (`timeout_s`, …), when it sets any.
    public var limits: String?
    public var contentHash: String
    public var createdAt: Date
    public var fetchedAt: Date

    enum CodingKeys: String, CodingKey {
        case account, skill, version, description, code, entrypoint, requirements, limits
        case projectID = "project_id"
        case inputSchema = "input_schema"
        case contentHash = "content_hash"
        case createdAt = "created_at"
        case fetchedAt = "fetched_at"
    }
}

/// An agent configuration, as synced (never a provider's key).
public struct LocalAgent: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "agents"

    public var account: String
    public var projectID: String
    public var name: String
    public var version: Int
    public var provider: String
    public var model: String
    public var systemPrompt: String
    /// JSON array of skill names.
    public var skills: String
    /// JSON object of model parameters.
    public var params: String
    public var updatedAt: Date

    enum CodingKeys: String, CodingKey {
        case account, name, version, provider, model, skills, params
        case projectID = "project_id"
        case systemPrompt = "system_prompt"
        case updatedAt = "updated_at"
    }
}

/// Where a local run stands with the server.
public enum SyncState: String, Codable, Sendable, CaseIterable, DatabaseValueConvertible {
    /// Still running: not in the outbox yet.
    case local
    /// In the outbox, waiting to be pushed.
    case pending
    /// On the server (`server_job_id`).
    case synced
    /// The server refused it for good (access lost, or a record it cannot take); kept here,
    /// never retried (`sync_error` says why).
    case rejected
}

/// A run made on this desktop, and its place in the outbox.
public struct LocalRun: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "runs"

    /// Order of recording: the outbox pushes in this order.
    public var seq: Int64?
    /// The run's id, made here; the server keeps one record per id.
    public var id: String
    public var account: String
    public var projectID: String
    public var projectName: String
    public var skill: String
    public var version: Int
    /// JSON object text.
    public var inputs: String
    /// JSON array of the folders shared with it (`/mnt/<name>` and whether writable).
    public var folders: String
    /// A `JobStatus`: `running` until it ends.
    public var status: String
    /// JSON text of the result, when there is one.
    public var result: String?
    public var stdout: String
    public var stderr: String
    public var outputTruncated: Bool
    public var exitCode: Int?
    public var error: String?
    public var device: String
    /// The process that ran it (`ProcessIdentity`): a run left `running` by a process that is
    /// gone was interrupted.
    public var process: String
    public var startedAt: Date
    public var finishedAt: Date?
    public var syncState: SyncState
    public var syncAttempts: Int
    public var syncError: String?
    public var serverJobID: String?
    public var syncedAt: Date?

    enum CodingKeys: String, CodingKey {
        case seq, id, account, skill, version, inputs, folders, status, result, stdout, stderr, error, device, process
        case projectID = "project_id"
        case projectName = "project_name"
        case outputTruncated = "output_truncated"
        case exitCode = "exit_code"
        case startedAt = "started_at"
        case finishedAt = "finished_at"
        case syncState = "sync_state"
        case syncAttempts = "sync_attempts"
        case syncError = "sync_error"
        case serverJobID = "server_job_id"
        case syncedAt = "synced_at"
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) {
        seq = inserted.rowID
    }
}

extension LocalRun {
    /// `status` as a job status (running when unreadable).
    public var jobStatus: JobStatus { JobStatus(rawValue: status) ?? .running }
}

/// A process named so that a reused pid is not mistaken for it: `pid:start time`, the start
/// time in clock ticks since boot from `/proc/<pid>/stat`.
public enum ProcessIdentity {
    /// This process.
    public static var current: String { identity(of: getpid()) ?? "\(getpid()):0" }

    /// Whether the process `identity` names still runs.
    public static func isAlive(_ identity: String) -> Bool {
        guard let pid = identity.split(separator: ":").first.flatMap({ Int32($0) }) else { return false }
        return Self.identity(of: pid) == identity
    }

    /// The identity of a running process (not one that has ended and waits to be reaped).
    static func identity(of pid: Int32) -> String? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let end = stat.lastIndex(of: ")")
        else { return nil }
        // Fields after the command's closing parenthesis: state is 3rd, start time 22nd.
        let fields = stat[stat.index(after: end)...].split(separator: " ")
        guard fields.count > 19, fields[0] != "Z", fields[0] != "X" else { return nil }
        return "\(pid):\(fields[19])"
    }
}
