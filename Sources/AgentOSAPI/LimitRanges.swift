import AgentOSWire

/// What a job may ask for in `limits`, by where it runs: the one definition of those ranges,
/// used by the server at submit (and for a skill's limits) and by `agentos sandbox`.
public struct LimitRanges: Sendable {
    /// Wall time, in seconds.
    public var timeoutSeconds: ClosedRange<Double>
    /// Memory, in MiB.
    public var memoryMB: ClosedRange<Int>
    /// Output kept per stream, in KiB.
    public var maxOutputKB: ClosedRange<Int>

    /// Jobs that go over the bus: both streams and the result must fit one 16 MiB message.
    public static let bus = LimitRanges(timeoutSeconds: 0.001...86_400, memoryMB: 16...65_536, maxOutputKB: 1...4096)
    /// `agentos sandbox` answers over HTTP within one request, and has no bus limit.
    public static let sandboxService = LimitRanges(timeoutSeconds: 0.001...3600, memoryMB: 16...65_536, maxOutputKB: 1...65_536)

    /// `limits` if every value is in range; otherwise the first field out of range, named
    /// under `field`.
    public func check(_ limits: Schemas.LimitsInput, field: String = "limits") throws(APIBodyError) -> Schemas.LimitsInput {
        if let value = limits.timeoutSeconds, !(value.isFinite && timeoutSeconds.contains(value)) {
            throw APIBodyError(path: "\(field).timeout_s", message: "must be between \(timeoutSeconds.lowerBound) and \(Int(timeoutSeconds.upperBound)) seconds")
        }
        if let value = limits.memoryMB, !memoryMB.contains(value) {
            throw APIBodyError(path: "\(field).memory_mb", message: "must be between \(memoryMB.lowerBound) and \(memoryMB.upperBound)")
        }
        if let value = limits.maxOutputKB, !maxOutputKB.contains(value) {
            throw APIBodyError(path: "\(field).max_output_kb", message: "must be between \(maxOutputKB.lowerBound) and \(maxOutputKB.upperBound)")
        }
        return limits
    }
}

extension Schemas.LimitsInput {
    /// These limits over `base`: what is set here wins.
    public func over(_ base: Schemas.LimitsInput) -> Schemas.LimitsInput {
        Schemas.LimitsInput(
            timeoutSeconds: timeoutSeconds ?? base.timeoutSeconds, maxOutputKB: maxOutputKB ?? base.maxOutputKB,
            memoryMB: memoryMB ?? base.memoryMB, network: network ?? base.network)
    }

    /// The bus limits, with the defaults for what is unset.
    public var resolved: JobLimits {
        var limits = JobLimits()
        if let timeoutSeconds { limits.timeoutSeconds = timeoutSeconds }
        if let maxOutputKB { limits.maxOutputBytes = maxOutputKB * 1024 }
        limits.memoryMB = memoryMB
        limits.network = network ?? false
        return limits
    }

    /// Whether nothing is set.
    public var isEmpty: Bool { timeoutSeconds == nil && maxOutputKB == nil && memoryMB == nil && network == nil }
}
