extension Decoder {
    /// A string that must name one of `T`'s cases; the error lists the ones allowed, so an API
    /// client reads `role must be one of admin, user` rather than the decoder's own words.
    public func closedChoice<T: RawRepresentable & CaseIterable>(_ type: T.Type = T.self) throws -> T where T.RawValue == String {
        let container = try singleValueContainer()
        let text = try container.decode(String.self)
        guard let value = T(rawValue: text) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "must be one of \(T.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return value
    }
}

extension SystemRole {
    public init(from decoder: any Decoder) throws { self = try decoder.closedChoice() }
}

extension TeamRole {
    public init(from decoder: any Decoder) throws { self = try decoder.closedChoice() }
}

extension ProjectRole {
    public init(from decoder: any Decoder) throws { self = try decoder.closedChoice() }
}

extension MessageRole {
    public init(from decoder: any Decoder) throws { self = try decoder.closedChoice() }
}

extension JobStatus {
    public init(from decoder: any Decoder) throws { self = try decoder.closedChoice() }
}

extension JobTarget {
    public init(from decoder: any Decoder) throws { self = try decoder.closedChoice() }
}

extension JobOrigin {
    public init(from decoder: any Decoder) throws { self = try decoder.closedChoice() }
}

extension WorkerKind {
    public init(from decoder: any Decoder) throws { self = try decoder.closedChoice() }
}
