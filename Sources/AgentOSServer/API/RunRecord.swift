import AgentOSAPI
import AgentOSStore
import AgentOSWire
import Foundation

/// A run a desktop made locally, as it posts it.
struct RunRecord {
    var clientID: String
    var skill: String?
    var version: Int?
    var code: String
    var inputs: [String: JSONValue]
    var status: JobStatus
    var result: JSONValue?
    var stdout: String
    var stderr: String
    var exitCode: Int?
    var error: String?
    var startedAt: Date?
    var finishedAt: Date?
    var device: String?
    var outputTruncated: Bool
    var dirs: [String]

    /// Checks the record posted at `index`; a problem is a 400 naming it.
    init(_ record: Schemas.RunRecord, index: Int) throws(APIError) {
        do {
            try self.init(record)
        } catch {
            throw .invalid("runs[\(index)]: \(error.message)")
        }
    }

    private init(_ record: Schemas.RunRecord) throws(APIError) {
        clientID = try FieldRules.required(record.id, "id", maxLength: 200)
        status = record.status
        guard status.isFinal else { throw .invalid("status must be a final one (succeeded, failed, timed_out, cancelled)") }
        inputs = record.inputs ?? [:]
        result = record.result.flatMap { $0.isNull ? nil : $0 }
        let size = JSONValue.object(inputs).encoded().count + (result?.encoded().count ?? 0)
        guard size <= 8 << 20 else { throw .invalid("inputs and result are larger than 8 MiB") }
        skill = try FieldRules.text(record.skill, "skill", maxLength: 80)
        version = try FieldRules.within(record.version, "version", 1...1_000_000)
        code = try FieldRules.text(record.code, "code", maxLength: APIHandler.maxCodeBytes) ?? ""
        stdout = try FieldRules.text(record.stdout?.replacingNUL, "stdout", maxLength: 4 << 20) ?? ""
        stderr = try FieldRules.text(record.stderr?.replacingNUL, "stderr", maxLength: 4 << 20) ?? ""
        exitCode = try FieldRules.within(record.exitCode, "exit_code", -255...255)
        error = try FieldRules.text(record.error?.replacingNUL, "error", maxLength: 4096)
        startedAt = record.startedAt
        finishedAt = record.finishedAt
        device = try FieldRules.text(record.device, "device", maxLength: 200)
        outputTruncated = record.outputTruncated ?? false
        dirs = try JobRequest.checkedDirs(record.dirs, target: .private)
    }

    func job(projectID: String, submittedBy: String) -> Job {
        let now = Date()
        var job = Job(
            projectID: projectID, code: code, inputs: inputs, target: .private, submittedBy: submittedBy,
            createdAt: startedAt ?? finishedAt ?? now)
        job.origin = "local"
        job.status = status
        job.skill = skill
        job.skillVersion = version
        job.result = result
        job.stdout = stdout
        job.stderr = stderr
        job.outputTruncated = outputTruncated
        job.dirs = dirs
        job.exitCode = exitCode
        job.error = error
        job.startedAt = startedAt
        job.finishedAt = finishedAt ?? now
        job.attempts = 1
        job.maxAttempts = 1
        job.clientRunID = clientID
        job.device = device
        job.workerName = device
        return job
    }
}
