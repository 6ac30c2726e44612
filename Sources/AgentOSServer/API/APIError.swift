import AgentOSWire

/// A failed API request: the HTTP status and the contract's error code and message.
public struct APIError: Error, Sendable, Equatable {
    /// HTTP status.
    public let status: Int
    /// snake_case code.
    public let code: String
    /// Human message.
    public let message: String
    /// Extra fields of the error object (the failing `path` of a schema check).
    public var details: [String: JSONValue] = [:]
    /// Extra response headers (`Retry-After`).
    public var headers: [String: String] = [:]

    /// An error.
    public init(_ status: Int, _ code: String, _ message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    static func invalid(_ message: String) -> APIError { APIError(400, "invalid_request", message) }
    static let unauthorized = APIError(401, "unauthorized", "missing, invalid or expired access token")
    static func forbidden(_ message: String) -> APIError { APIError(403, "forbidden", message) }
    static func notFound(_ what: String) -> APIError { APIError(404, "not_found", "\(what) not found") }
    static func conflict(_ message: String) -> APIError { APIError(409, "conflict", message) }
    static let adminOnly = APIError(403, "forbidden", "this needs the admin role")
}

/// Typed, validated reads from a JSON request body, failing with a 400 that names the field.
struct BodyReader {
    let fields: [String: JSONValue]

    init(_ body: JSONValue?) throws(APIError) {
        guard let fields = body?.objectValue else { throw .invalid("the request body must be a JSON object") }
        self.fields = fields
    }

    init(fields: [String: JSONValue]) {
        self.fields = fields
    }

    func has(_ key: String) -> Bool {
        fields[key].map { !$0.isNull } ?? false
    }

    func string(_ key: String, maxLength: Int, required: Bool = false) throws(APIError) -> String? {
        guard let value = fields[key], !value.isNull else {
            if required { throw .invalid("\(key) is required") }
            return nil
        }
        guard let text = value.stringValue else { throw .invalid("\(key) must be a string") }
        if required && text.isEmpty { throw .invalid("\(key) must not be empty") }
        guard text.utf8.count <= maxLength else { throw .invalid("\(key) is longer than \(maxLength) bytes") }
        return text
    }

    func bool(_ key: String) throws(APIError) -> Bool? {
        guard let value = fields[key], !value.isNull else { return nil }
        guard let flag = value.boolValue else { throw .invalid("\(key) must be true or false") }
        return flag
    }

    /// A string that must be one of `allowed`.
    func choice<T: RawRepresentable>(_ key: String, _ type: T.Type, required: Bool = false) throws(APIError) -> T?
    where T.RawValue == String, T: CaseIterable {
        guard let text = try string(key, maxLength: 64, required: required) else { return nil }
        guard let value = T(rawValue: text) else {
            throw .invalid("\(key) must be one of \(T.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return value
    }

    /// A name usable in URLs: letters, digits, `.`, `_`, `-`, starting with a letter or digit.
    func name(_ key: String, maxLength: Int = 64, required: Bool = true) throws(APIError) -> String? {
        guard let text = try string(key, maxLength: maxLength, required: required) else { return nil }
        guard text.isURLName else {
            throw .invalid("\(key) may hold letters, digits, '.', '_' and '-' and must start with a letter or digit")
        }
        return text
    }

    /// An email address (a plain check: something@something, no spaces).
    func email(_ key: String, required: Bool = true) throws(APIError) -> String? {
        guard let text = try string(key, maxLength: 254, required: required) else { return nil }
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[1].contains("."), !parts[1].hasPrefix("."), !parts[1].hasSuffix("."),
            !text.contains(where: { $0.isWhitespace || $0.isNewline || $0 == "<" || $0 == ">" })
        else {
            // `admin@localhost` is the contract's default admin: allow a dotless host too.
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty, parts[1] == "localhost" else {
                throw .invalid("\(key) must be an email address")
            }
            return text
        }
        return text
    }

    func int(_ key: String, in range: ClosedRange<Int>) throws(APIError) -> Int? {
        guard let value = fields[key], !value.isNull else { return nil }
        guard let number = value.intValue else { throw .invalid("\(key) must be an integer") }
        guard range.contains(number) else {
            throw .invalid("\(key) must be between \(range.lowerBound) and \(range.upperBound)")
        }
        return number
    }

    func number(_ key: String, in range: ClosedRange<Double>, path: String? = nil) throws(APIError) -> Double? {
        guard let value = fields[key], !value.isNull else { return nil }
        guard let number = value.doubleValue, number.isFinite else { throw .invalid("\(path ?? key) must be a number") }
        guard range.contains(number) else {
            throw .invalid("\(path ?? key) must be between \(range.lowerBound) and \(range.upperBound)")
        }
        return number
    }

    func object(_ key: String) throws(APIError) -> [String: JSONValue]? {
        guard let value = fields[key], !value.isNull else { return nil }
        guard let object = value.objectValue else { throw .invalid("\(key) must be an object") }
        return object
    }

    func strings(_ key: String, maxCount: Int, maxLength: Int) throws(APIError) -> [String]? {
        guard let value = fields[key], !value.isNull else { return nil }
        guard let array = value.arrayValue else { throw .invalid("\(key) must be an array of strings") }
        guard array.count <= maxCount else { throw .invalid("\(key) has more than \(maxCount) entries") }
        var out: [String] = []
        for element in array {
            guard let text = element.stringValue, !text.isEmpty, text.utf8.count <= maxLength else {
                throw .invalid("\(key) must hold non-empty strings of at most \(maxLength) bytes")
            }
            out.append(text)
        }
        return out
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

    /// Letters, digits, `.`, `_`, `-`, starting with a letter or digit: safe in a URL path.
    var isURLName: Bool {
        guard let first = unicodeScalars.first, first.isASCII, first.properties.isAlphabetic || ("0"..."9").contains(first) else {
            return false
        }
        return unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "._-".unicodeScalars.contains($0)) }
    }
}
