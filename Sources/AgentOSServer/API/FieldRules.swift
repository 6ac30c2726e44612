import AgentOSAPI
import AgentOSWire

/// The rules request fields must meet beyond their types (lengths, counts, ranges, the shape
/// of names and e-mails), each written once. A broken rule is a `400 invalid_request` that
/// names the field.
enum FieldRules {
    /// A string of at most `maxLength` bytes.
    static func text(_ value: String?, _ field: String, maxLength: Int) throws(APIError) -> String? {
        guard let value else { return nil }
        guard value.utf8.count <= maxLength else { throw .invalid("\(field) is longer than \(maxLength) bytes") }
        return value
    }

    /// A string that must be there and not be empty.
    static func required(_ value: String?, _ field: String, maxLength: Int) throws(APIError) -> String {
        guard let value = try text(value, field, maxLength: maxLength) else { throw .invalid("\(field) is required") }
        guard !value.isEmpty else { throw .invalid("\(field) must not be empty") }
        return value
    }

    /// A name usable in URLs: letters, digits, `.`, `_`, `-`, starting with a letter or digit.
    static func name(_ value: String?, _ field: String, maxLength: Int = 64) throws(APIError) -> String {
        let text = try required(value, field, maxLength: maxLength)
        guard text.isURLName else {
            throw .invalid("\(field) may hold letters, digits, '.', '_' and '-' and must start with a letter or digit")
        }
        return text
    }

    /// An e-mail address (a plain check: something@something, no spaces). `admin@localhost`
    /// is the contract's default admin, so a dotless `localhost` is allowed too.
    static func email(_ value: String?, _ field: String) throws(APIError) -> String {
        let text = try required(value, field, maxLength: 254)
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        let plain = parts.count == 2 && !parts[0].isEmpty && parts[1].contains(".") && !parts[1].hasPrefix(".")
            && !parts[1].hasSuffix(".") && !text.contains(where: { $0.isWhitespace || $0.isNewline || $0 == "<" || $0 == ">" })
        guard plain || (parts.count == 2 && !parts[0].isEmpty && parts[1] == "localhost") else {
            throw .invalid("\(field) must be an email address")
        }
        return text
    }

    /// A password: 8 to 72 characters (bcrypt reads 72 bytes).
    static func password(_ value: String?, _ field: String = "password") throws(APIError) -> String {
        guard let value else { throw .invalid("\(field) is required") }
        guard value.utf8.count <= 72 else { throw .invalid("\(field) is longer than 72 bytes") }
        guard value.count >= 8 else { throw .invalid("\(field) must be at least 8 characters") }
        return value
    }

    /// A number within `range`.
    static func within<Value: Comparable>(_ value: Value?, _ field: String, _ range: ClosedRange<Value>) throws(APIError) -> Value? {
        guard let value else { return nil }
        guard range.contains(value) else { throw .invalid("\(field) must be between \(range.lowerBound) and \(range.upperBound)") }
        return value
    }

    /// At most `maxCount` non-empty strings of at most `maxLength` bytes each.
    static func strings(_ values: [String]?, _ field: String, maxCount: Int, maxLength: Int) throws(APIError) -> [String]? {
        guard let values else { return nil }
        guard values.count <= maxCount else { throw .invalid("\(field) has more than \(maxCount) entries") }
        guard values.allSatisfy({ !$0.isEmpty && $0.utf8.count <= maxLength }) else {
            throw .invalid("\(field) must hold non-empty strings of at most \(maxLength) bytes")
        }
        return values
    }
}
