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

    static func parse(_ value: JSONValue, index: Int) throws(APIError) -> RunRecord {
        guard let fields = value.objectValue else { throw .invalid("runs[\(index)] must be an object") }
        do {
            return try parse(BodyReader(fields: fields))
        } catch {
            throw .invalid("runs[\(index)]: \(error.message)")
        }
    }

    private static func parse(_ reader: BodyReader) throws(APIError) -> RunRecord {
        let fields = reader.fields
        let clientID = (try reader.string("id", maxLength: 200, required: true)) ?? ""
        let status = (try reader.choice("status", JobStatus.self, required: true)) ?? .failed
        guard status.isFinal else { throw .invalid("status must be a final one (succeeded, failed, timed_out, cancelled)") }
        let inputs = (try reader.object("inputs")) ?? [:]
        let result = fields["result"].flatMap { $0.isNull ? nil : $0 }
        let size = JSONValue.object(inputs).encoded().count + (result?.encoded().count ?? 0)
        guard size <= 8 << 20 else { throw .invalid("inputs and result are larger than 8 MiB") }
        return RunRecord(
            clientID: clientID,
            skill: (try reader.string("skill", maxLength: 80)),
            version: (try reader.int("version", in: 1...1_000_000)),
            code: (try reader.string("code", maxLength: APIHandler.maxCodeBytes)) ?? "",
            inputs: inputs, status: status, result: result,
            stdout: (try reader.string("stdout", maxLength: 4 << 20)) ?? "",
            stderr: (try reader.string("stderr", maxLength: 4 << 20)) ?? "",
            exitCode: (try reader.int("exit_code", in: -255...255)),
            error: (try reader.string("error", maxLength: 4096)),
            startedAt: (try date(reader, "started_at")),
            finishedAt: (try date(reader, "finished_at")),
            device: (try reader.string("device", maxLength: 200)))
    }

    private static func date(_ reader: BodyReader, _ key: String) throws(APIError) -> Date? {
        guard let text = try reader.string(key, maxLength: 64) else { return nil }
        guard let date = Representation.parseTimestamp(text) else { throw .invalid("\(key) must be an ISO 8601 time") }
        return date
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
