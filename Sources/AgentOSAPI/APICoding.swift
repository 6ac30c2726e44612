import AgentOSWire
import Foundation

/// How API bodies are written and read: keys sorted and slashes unescaped (the bytes
/// `JSONValue.encoded()` gives), times as ISO 8601 in UTC with milliseconds.
public enum APICoding {
    /// Encodes an API body.
    public static func encode(_ value: some Encodable) throws -> Data {
        try encoder.encode(value)
    }

    /// Decodes an API body; a failure names the field and what was wrong with it.
    public static func decode<Value: Decodable>(_ type: Value.Type, from data: Data) throws(APIBodyError) -> Value {
        do {
            return try decoder.decode(type, from: data)
        } catch let error as DecodingError {
            throw APIBodyError(error)
        } catch {
            throw APIBodyError(path: "", message: "\(error)")
        }
    }

    /// Re-reads a parsed JSON value as `Value`.
    public static func decode<Value: Decodable>(_ type: Value.Type, from value: JSONValue) throws(APIBodyError) -> Value {
        try decode(type, from: value.encoded())
    }

    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(Timestamp.format(date))
        }
        return encoder
    }()

    private static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            guard let date = Timestamp.parse(text) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "must be an ISO 8601 time, e.g. 2026-01-02T03:04:05Z")
            }
            return date
        }
        return decoder
    }()
}

/// Times as the API writes them: ISO 8601, UTC, whole milliseconds.
public enum Timestamp {
    /// `2026-01-02T03:04:05.678Z`, rounded to the millisecond as the database rounds it, so a
    /// record reads the same when it is created and when it is fetched again.
    public static func format(_ given: Date) -> String {
        let date = Date(timeIntervalSince1970: (given.timeIntervalSince1970 * 1000).rounded() / 1000 + 0.000_000_5)
        return date.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))
    }

    /// Parses ISO 8601 with or without fractional seconds.
    public static func parse(_ text: String) -> Date? {
        (try? Date(text, strategy: .iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted)))
            ?? (try? Date(text, strategy: .iso8601))
            ?? ISO8601DateFormatter().date(from: text)
    }
}

/// Why a request body does not fit its type: the field's path and the problem.
public struct APIBodyError: Error, CustomStringConvertible, Sendable {
    /// Where, e.g. `limits.timeout_s` or `files[2].id`; empty for the body itself.
    public var path: String
    /// What is wrong.
    public var message: String

    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    init(_ error: DecodingError) {
        func path(_ codingPath: [any CodingKey]) -> String {
            codingPath.reduce(into: "") { path, key in
                if let index = key.intValue { path += "[\(index)]" } else { path += (path.isEmpty ? "" : ".") + key.stringValue }
            }
        }
        switch error {
        case .keyNotFound(let key, let context):
            self.init(path: path(context.codingPath + [key]), message: "is required")
        case .typeMismatch(let type, let context):
            let description = Self.describe(type)
            // The body itself: say which kind of body, as a client would read it.
            self.init(path: path(context.codingPath), message: "must be \(context.codingPath.isEmpty && description == "an object" ? "a JSON object" : description)")
        case .valueNotFound(let type, let context):
            self.init(path: path(context.codingPath), message: "must be \(Self.describe(type)), not null")
        case .dataCorrupted(let context):
            let message = if context.underlyingError != nil || context.debugDescription.hasPrefix("The given data was not valid JSON") {
                "is not valid JSON"
            } else if context.debugDescription.contains("does not fit in") {
                // Foundation's words for 2.5 where an integer belongs.
                "must be an integer"
            } else {
                context.debugDescription
            }
            self.init(path: path(context.codingPath), message: message)
        @unknown default:
            self.init(path: "", message: "\(error)")
        }
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Bool.Type: "true or false"
        case is Int.Type, is Int64.Type: "an integer"
        case is Double.Type: "a number"
        case is [Any].Type: "an array"
        default: String(describing: type).hasPrefix("Array") ? "an array" : "an object"
        }
    }

    public var description: String { path.isEmpty ? "the request body \(message)" : "\(path) \(message)" }
}
