import AgentOSWire

/// Job limits as a body gives them (`{timeout_s, memory_mb, max_output_kb, network}`), each
/// optional: a skill's defaults fill what a submit leaves out.
struct LimitsRequest: Equatable, Sendable {
    var timeoutSeconds: Double?
    var memoryMB: Int?
    var maxOutputKB: Int?
    var network: Bool?

    /// Parses `limits` under `field` (for messages); absent is all-nil.
    static func parse(_ fields: [String: JSONValue]?, field: String = "limits") throws(APIError) -> LimitsRequest {
        guard let fields else { return LimitsRequest() }
        let reader = BodyReader(fields: fields)
        var limits = LimitsRequest()
        limits.timeoutSeconds = try reader.number("timeout_s", in: 0.001...86_400, path: "\(field).timeout_s")
        limits.memoryMB = try reader.number("memory_mb", in: 16...65_536, path: "\(field).memory_mb").map { Int($0) }
        // Both streams and the result must fit one bus message (16 MiB).
        limits.maxOutputKB = try reader.number("max_output_kb", in: 1...4096, path: "\(field).max_output_kb").map { Int($0) }
        if let value = fields["network"], !value.isNull {
            guard let flag = value.boolValue else { throw .invalid("\(field).network must be true or false") }
            limits.network = flag
        }
        return limits
    }

    /// These limits over `base`: what is set here wins.
    func over(_ base: LimitsRequest) -> LimitsRequest {
        LimitsRequest(
            timeoutSeconds: timeoutSeconds ?? base.timeoutSeconds, memoryMB: memoryMB ?? base.memoryMB,
            maxOutputKB: maxOutputKB ?? base.maxOutputKB, network: network ?? base.network)
    }

    /// The bus limits, with defaults for what is unset.
    var resolved: JobLimits {
        var limits = JobLimits()
        if let timeoutSeconds { limits.timeoutSeconds = timeoutSeconds }
        if let maxOutputKB { limits.maxOutputBytes = maxOutputKB * 1024 }
        limits.memoryMB = memoryMB
        limits.network = network ?? false
        return limits
    }

    /// As stored with a skill version: only what is set.
    var json: JSONValue? {
        var fields: [String: JSONValue] = [:]
        if let timeoutSeconds { fields["timeout_s"] = .number(timeoutSeconds) }
        if let memoryMB { fields["memory_mb"] = .number(Double(memoryMB)) }
        if let maxOutputKB { fields["max_output_kb"] = .number(Double(maxOutputKB)) }
        if let network { fields["network"] = .bool(network) }
        return fields.isEmpty ? nil : .object(fields)
    }
}
