import AgentOSStore
import AgentOSWire
import Foundation

/// How records look in API responses.
enum Representation {
    static func timestamp(_ date: Date?) -> JSONValue {
        guard let date else { return .null }
        return .string(date.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted)))
    }

    static func optional(_ text: String?) -> JSONValue { text.map(JSONValue.string) ?? .null }
    static func optional(_ number: Int?) -> JSONValue { number.map { .number(Double($0)) } ?? .null }

    static func user(_ user: User) -> JSONValue {
        [
            "id": .string(user.id), "email": .string(user.email), "name": .string(user.name),
            "role": .string(user.role.rawValue), "disabled": .bool(user.disabled),
            "created_at": timestamp(user.createdAt),
        ]
    }

    static func job(_ job: Job, projectName: String, warnings: [String] = []) -> JSONValue {
        var fields: [String: JSONValue] = [
            "id": .string(job.id),
            "project": .string(projectName),
            "status": .string(job.status.rawValue),
            "origin": .string(job.origin),
            "skill": .null,
            "version": .null,
            "inputs": .object(job.inputs),
            "target": .string(job.target.rawValue),
            "worker": optional(job.workerName),
            "worker_id": optional(job.workerID),
            "requested_worker": optional(job.requestedWorker),
            "labels": .array(job.labels.map(JSONValue.string)),
            "limits": ["timeout_s": .number(job.timeoutSeconds), "max_output_kb": .number(Double(job.maxOutputBytes / 1024))],
            "priority": .number(Double(job.priority)),
            "attempts": .number(Double(job.attempts)),
            "max_attempts": .number(Double(job.maxAttempts)),
            "result": job.result ?? .null,
            "stdout": .string(job.stdout),
            "stderr": .string(job.stderr),
            "output_truncated": .bool(job.outputTruncated),
            "exit_code": optional(job.exitCode),
            "error": optional(job.error),
            "submitted_by": .string(job.submittedBy),
            "idempotency_key": optional(job.idempotencyKey),
            "created_at": timestamp(job.createdAt),
            "started_at": timestamp(job.startedAt),
            "finished_at": timestamp(job.finishedAt),
            "duration_ms": optional(job.durationMS),
        ]
        if !warnings.isEmpty { fields["warnings"] = .array(warnings.map(JSONValue.string)) }
        return .object(fields)
    }

    static func worker(_ worker: ConnectedWorker) -> JSONValue {
        [
            "id": .string(worker.workerID),
            "name": .string(worker.name),
            "kind": .string(worker.kind.rawValue),
            "owner_id": optional(worker.ownerID),
            "labels": .array(worker.labels.sorted().map(JSONValue.string)),
            "slots": .number(Double(worker.slots)),
            "running": .number(Double(worker.running.count)),
            "free_slots": .number(Double(worker.freeSlots)),
            "draining": .bool(worker.draining),
            "version": .string(worker.version),
            "connected_at": timestamp(worker.connectedAt),
            "last_seen_at": timestamp(worker.lastHeard),
        ]
    }
}
