import AgentOSStore
import AgentOSWire

/// A validated job submission body.
struct JobRequest: Equatable {
    var code: String
    var inputs: [String: JSONValue]
    var target: JobTarget
    var worker: String?
    var labels: [String]
    var limits: JobLimits
    var maxAttempts: Int
    var priority: Int
    var idempotencyKey: String?

    static let maxCodeBytes = 512 * 1024
    static let maxInputBytes = 4 << 20

    /// Parses and checks a submit body; every problem is a 400 naming the field.
    static func parse(_ body: JSONValue?) throws(APIError) -> JobRequest {
        let reader = try BodyReader(body)
        if reader.has("skill") || reader.has("version") {
            throw .invalid("this server has no skill registry yet: send the Python source in code")
        }
        guard let code = try reader.string("code", maxLength: maxCodeBytes, required: true) else {
            throw .invalid("code is required")
        }
        let inputs = try reader.object("inputs") ?? [:]
        if JSONValue.object(inputs).encoded().count > maxInputBytes {
            throw .invalid("inputs are larger than \(maxInputBytes >> 20) MiB")
        }
        for key in inputs.keys where !key.isPythonIdentifier {
            throw .invalid("inputs.\(key) is not a valid Python keyword argument name")
        }
        var target = JobTarget.cloud
        if let text = try reader.string("target", maxLength: 16) {
            guard let parsed = JobTarget(rawValue: text) else { throw .invalid("target must be \"cloud\" or \"private\"") }
            target = parsed
        }
        var limits = JobLimits()
        if let fields = try reader.object("limits") {
            let limitReader = BodyReader(fields: fields)
            if let timeout = try limitReader.number("timeout_s", in: 0.001...86_400, path: "limits.timeout_s") {
                limits.timeoutSeconds = timeout
            }
            // Both streams and the result must fit one bus message (16 MiB).
            if let kilobytes = try limitReader.number("max_output_kb", in: 1...4096, path: "limits.max_output_kb") {
                limits.maxOutputBytes = Int(kilobytes) * 1024
            }
        }
        return JobRequest(
            code: code, inputs: inputs, target: target,
            worker: try reader.string("worker", maxLength: 200),
            labels: try reader.strings("labels", maxCount: 32, maxLength: 64) ?? [],
            limits: limits,
            maxAttempts: try reader.int("max_attempts", in: 1...10) ?? 3,
            priority: try reader.int("priority", in: -1000...1000) ?? 0,
            idempotencyKey: try reader.string("idempotency_key", maxLength: 200))
    }

    func job(projectID: String, submittedBy: String) -> Job {
        Job(
            projectID: projectID, code: code, inputs: inputs, target: target, requestedWorker: worker,
            labels: labels, limits: limits, priority: priority, maxAttempts: maxAttempts, submittedBy: submittedBy,
            idempotencyKey: idempotencyKey)
    }
}

extension String {
    /// Whether this can be a Python keyword argument (ASCII identifiers only).
    var isPythonIdentifier: Bool {
        guard let first = unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic) else {
            return false
        }
        return unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) }
    }
}
