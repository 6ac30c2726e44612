import AgentOSAPI
import AgentOSWire
import Foundation

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

    /// An e-mail address, normalised: NFKC and lower case, so one mailbox is one account however
    /// it is typed. It must be ASCII (a domain in its `xn--` form), which leaves no look-alike
    /// letters from other scripts (`exаmple.com` with a Cyrillic `а`), and no invisible or
    /// direction-changing characters. A plain check of the shape: something@something.dotted,
    /// no spaces; `admin@localhost` is the contract's default admin, so a dotless `localhost`
    /// is allowed too.
    static func email(_ value: String?, _ field: String) throws(APIError) -> String {
        let text = try required(value, field, maxLength: 254).precomposedStringWithCompatibilityMapping.lowercased()
        guard text.unicodeScalars.allSatisfy({ $0.isASCII && $0.value > 0x20 && $0.value != 0x7f }) else {
            throw .invalid("\(field) must be an ASCII e-mail address (an international domain in its xn-- form), with no spaces or control characters")
        }
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        let plain = parts.count == 2 && !parts[0].isEmpty && parts[1].contains(".") && !parts[1].hasPrefix(".")
            && !parts[1].hasSuffix(".") && !text.contains(where: { $0 == "<" || $0 == ">" })
        guard plain || (parts.count == 2 && !parts[0].isEmpty && parts[1] == "localhost") else {
            throw .invalid("\(field) must be an email address")
        }
        return text
    }

    /// An e-mail address given to find an account (log in, add a member): normalised as
    /// `email` stores it, but not judged, so a wrong one is simply not found.
    static func emailLookup(_ value: String?, _ field: String) throws(APIError) -> String {
        try required(value, field, maxLength: 320).precomposedStringWithCompatibilityMapping.lowercased()
    }

    /// A name people read (a user's name, a token's), NFKC-normalised, with no control,
    /// invisible or direction-changing characters: what it shows is what it is.
    static func displayName(_ value: String?, _ field: String, maxLength: Int) throws(APIError) -> String? {
        guard let value else { return nil }
        let text = value.precomposedStringWithCompatibilityMapping.trimmingCharacters(in: .whitespaces)
        guard text.utf8.count <= maxLength else { throw .invalid("\(field) is longer than \(maxLength) bytes") }
        if let hidden = text.unicodeScalars.first(where: \.isHiddenInNames) {
            throw .invalid("\(field) must not contain control, invisible or direction-changing characters (U+\(String(hidden.value, radix: 16, uppercase: true)))")
        }
        return text
    }

    /// A file's name: NFKC-normalised, at most 255 bytes, not `.` or `..`, no `/` or `\`, and
    /// nothing `displayName` refuses.
    static func fileName(_ value: String?, _ field: String) throws(APIError) -> String {
        // Normalised and trimmed as stored before it is judged: " .." must not become "..".
        let text = (value ?? "").precomposedStringWithCompatibilityMapping.trimmingCharacters(in: .whitespaces)
        guard !text.isEmpty else { throw .invalid("\(field) is required") }
        guard text.utf8.count <= 255 else { throw .invalid("\(field) is longer than 255 bytes") }
        guard text != ".", text != "..", !text.contains("/"), !text.contains("\\") else {
            throw .invalid("\(field) must be a plain file name: no '/' or '\\', not '.' or '..'")
        }
        return try displayName(text, field, maxLength: 255) ?? text
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

extension Unicode.Scalar {
    /// Control characters, format characters (zero-width ones, byte-order mark, bidirectional
    /// controls such as U+202E), line and paragraph separators, and the blank fillers some
    /// scripts have: characters that hide in a name or make it read as another.
    var isHiddenInNames: Bool {
        switch properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator, .unassigned, .privateUse, .surrogate: true
        default: [0x115F, 0x1160, 0x3164, 0xFFA0, 0x2800].contains(value) || properties.isVariationSelector
        }
    }
}
