import Foundation

/// Validates JSON values against a JSON Schema: the keywords skills' input schemas and the
/// API document use (types, enum/const, object, array, number and string constraints,
/// allOf/anyOf/oneOf/not, local `$ref`s, and OpenAPI's `nullable`). Unknown keywords are
/// ignored, as the specification says.
public struct JSONSchema: Sendable {
    /// The first place a value breaks the schema.
    public struct Violation: Error, Sendable, Equatable, CustomStringConvertible {
        /// JSON Pointer to the failing value (`""` for the whole value).
        public let path: String
        /// What is wrong there.
        public let message: String

        public var description: String { "\(path.isEmpty ? "/" : path): \(message)" }
    }

    /// A schema that is not usable.
    public struct Invalid: Error, Sendable, Equatable, CustomStringConvertible {
        public let description: String
    }

    private let schema: JSONValue
    private let root: JSONValue
    private let strict: Bool
    private static let typeNames: Set<String> = ["null", "boolean", "object", "array", "number", "integer", "string"]
    private static let maxDepth = 64

    /// A validator for `schema`; `$ref`s resolve against `root` (default: the schema). A
    /// `strict` one also refuses, in an object whose schema lists `properties` and says
    /// nothing of `additionalProperties`, any property not listed: how the API's tests check
    /// that no answer carries an undocumented field.
    public init(_ schema: JSONValue, root: JSONValue? = nil, strict: Bool = false) throws(Invalid) {
        self.schema = schema
        self.root = root ?? schema
        self.strict = strict
        try Self.check(schema, at: "", depth: 0)
    }

    /// Throws the first violation of `value`.
    public func validate(_ value: JSONValue) throws(Violation) {
        try validate(value, against: schema, path: "", depth: 0)
    }

    // MARK: Checking the schema itself

    private static func check(_ schema: JSONValue, at path: String, depth: Int) throws(Invalid) {
        guard depth < maxDepth else { throw Invalid(description: "schema nested too deeply at \(path)") }
        if case .bool = schema { return }
        guard let object = schema.objectValue else { throw Invalid(description: "\(path.isEmpty ? "schema" : path) must be an object or a boolean") }
        if let type = object["type"] {
            let names = type.arrayValue?.compactMap(\.stringValue) ?? type.stringValue.map { [$0] } ?? []
            guard !names.isEmpty, names.allSatisfy(typeNames.contains) else {
                throw Invalid(description: "\(path)/type must name JSON types: \(typeNames.sorted().joined(separator: ", "))")
            }
        }
        if let required = object["required"], !(required.arrayValue?.allSatisfy { $0.stringValue != nil } ?? false) {
            throw Invalid(description: "\(path)/required must be an array of strings")
        }
        if let enumValues = object["enum"], enumValues.arrayValue == nil {
            throw Invalid(description: "\(path)/enum must be an array")
        }
        if let pattern = object["pattern"] {
            guard let text = pattern.stringValue, (try? NSRegularExpression(pattern: text)) != nil else {
                throw Invalid(description: "\(path)/pattern must be a valid regular expression")
            }
        }
        for key in ["minimum", "maximum", "multipleOf"] where object[key].map({ $0.doubleValue == nil }) ?? false {
            throw Invalid(description: "\(path)/\(key) must be a number")
        }
        for key in ["exclusiveMinimum", "exclusiveMaximum"] where object[key].map({ $0.doubleValue == nil && $0.boolValue == nil }) ?? false {
            throw Invalid(description: "\(path)/\(key) must be a number (or, in older drafts, a boolean)")
        }
        for key in ["minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties"] {
            if let bound = object[key], (bound.intValue ?? -1) < 0 {
                throw Invalid(description: "\(path)/\(key) must be a non-negative integer")
            }
        }
        if let ref = object["$ref"], !(ref.stringValue?.hasPrefix("#") ?? false) {
            throw Invalid(description: "\(path)/$ref must be a local reference (#/…)")
        }
        if let properties = object["properties"] {
            guard let fields = properties.objectValue else { throw Invalid(description: "\(path)/properties must be an object") }
            for (name, sub) in fields { try check(sub, at: "\(path)/properties/\(name)", depth: depth + 1) }
        }
        for key in ["items", "additionalProperties", "not"] {
            if let sub = object[key] { try check(sub, at: "\(path)/\(key)", depth: depth + 1) }
        }
        for key in ["allOf", "anyOf", "oneOf"] {
            if let list = object[key] {
                guard let subs = list.arrayValue, !subs.isEmpty else { throw Invalid(description: "\(path)/\(key) must be a non-empty array") }
                for (index, sub) in subs.enumerated() { try check(sub, at: "\(path)/\(key)/\(index)", depth: depth + 1) }
            }
        }
    }

    // MARK: Validation

    private func validate(_ value: JSONValue, against schema: JSONValue, path: String, depth: Int) throws(Violation) {
        guard depth < Self.maxDepth else { throw Violation(path: path, message: "schema references nest too deeply") }
        if case .bool(let allowed) = schema {
            if !allowed { throw Violation(path: path, message: "no value is allowed here") }
            return
        }
        guard let rules = schema.objectValue else { return }
        if let ref = rules["$ref"]?.stringValue {
            guard let target = resolve(ref) else { throw Violation(path: path, message: "unresolvable schema reference \(ref)") }
            try validate(value, against: target, path: path, depth: depth + 1)
        }
        if value.isNull, rules["nullable"]?.boolValue == true { return }
        if let type = rules["type"] {
            let names = type.arrayValue?.compactMap(\.stringValue) ?? type.stringValue.map { [$0] } ?? []
            guard names.contains(where: { Self.matches(value, type: $0) }) else {
                throw Violation(path: path, message: "must be \(names.count == 1 ? "of type " + names[0] : "one of the types " + names.joined(separator: ", "))")
            }
        }
        if let allowed = rules["enum"]?.arrayValue, !allowed.contains(value) {
            throw Violation(path: path, message: "must be one of \(allowed.map { $0.encodedString() }.joined(separator: ", "))")
        }
        if let constant = rules["const"], constant != value {
            throw Violation(path: path, message: "must be \(constant.encodedString())")
        }
        switch value {
        case .object(let fields): try validateObject(fields, rules: rules, path: path, depth: depth)
        case .array(let items): try validateArray(items, rules: rules, path: path, depth: depth)
        case .number(let number): try validateNumber(number, rules: rules, path: path)
        case .string(let text): try validateString(text, rules: rules, path: path)
        default: break
        }
        if let all = rules["allOf"]?.arrayValue {
            for sub in all { try validate(value, against: sub, path: path, depth: depth + 1) }
        }
        if let any = rules["anyOf"]?.arrayValue {
            guard any.contains(where: { passes(value, $0, path: path, depth: depth) }) else {
                throw Violation(path: path, message: "must match at least one of the allowed schemas")
            }
        }
        if let one = rules["oneOf"]?.arrayValue {
            let matching = one.filter { passes(value, $0, path: path, depth: depth) }.count
            guard matching == 1 else { throw Violation(path: path, message: "must match exactly one of the allowed schemas (matches \(matching))") }
        }
        if let not = rules["not"], passes(value, not, path: path, depth: depth) {
            throw Violation(path: path, message: "must not match the excluded schema")
        }
    }

    private func passes(_ value: JSONValue, _ schema: JSONValue, path: String, depth: Int) -> Bool {
        do {
            try validate(value, against: schema, path: path, depth: depth + 1)
            return true
        } catch {
            return false
        }
    }

    private func validateObject(_ fields: [String: JSONValue], rules: [String: JSONValue], path: String, depth: Int) throws(Violation) {
        for name in rules["required"]?.arrayValue?.compactMap(\.stringValue) ?? [] where fields[name] == nil {
            throw Violation(path: path + "/" + Self.escape(name), message: "is required")
        }
        if let minimum = rules["minProperties"]?.intValue, fields.count < minimum {
            throw Violation(path: path, message: "must have at least \(minimum) properties")
        }
        if let maximum = rules["maxProperties"]?.intValue, fields.count > maximum {
            throw Violation(path: path, message: "must have at most \(maximum) properties")
        }
        let properties = rules["properties"]?.objectValue ?? [:]
        for name in fields.keys.sorted() {
            let value = fields[name] ?? .null
            let childPath = path + "/" + Self.escape(name)
            if let sub = properties[name] {
                try validate(value, against: sub, path: childPath, depth: depth + 1)
            } else if let additional = rules["additionalProperties"] {
                if case .bool(false) = additional { throw Violation(path: childPath, message: "is not an allowed property") }
                try validate(value, against: additional, path: childPath, depth: depth + 1)
            } else if strict, rules["properties"] != nil {
                throw Violation(path: childPath, message: "is not a documented property")
            }
        }
    }

    private func validateArray(_ items: [JSONValue], rules: [String: JSONValue], path: String, depth: Int) throws(Violation) {
        if let minimum = rules["minItems"]?.intValue, items.count < minimum {
            throw Violation(path: path, message: "must have at least \(minimum) items")
        }
        if let maximum = rules["maxItems"]?.intValue, items.count > maximum {
            throw Violation(path: path, message: "must have at most \(maximum) items")
        }
        if rules["uniqueItems"]?.boolValue == true {
            for (index, item) in items.enumerated() where items[..<index].contains(item) {
                throw Violation(path: "\(path)/\(index)", message: "repeats an earlier item")
            }
        }
        if let itemSchema = rules["items"] {
            for (index, item) in items.enumerated() {
                try validate(item, against: itemSchema, path: "\(path)/\(index)", depth: depth + 1)
            }
        }
    }

    private func validateNumber(_ number: Double, rules: [String: JSONValue], path: String) throws(Violation) {
        if let minimum = rules["minimum"]?.doubleValue {
            let exclusive = rules["exclusiveMinimum"]?.boolValue == true
            if exclusive ? number <= minimum : number < minimum {
                throw Violation(path: path, message: "must be \(exclusive ? "greater than" : "at least") \(Self.format(minimum))")
            }
        }
        if let maximum = rules["maximum"]?.doubleValue {
            let exclusive = rules["exclusiveMaximum"]?.boolValue == true
            if exclusive ? number >= maximum : number > maximum {
                throw Violation(path: path, message: "must be \(exclusive ? "less than" : "at most") \(Self.format(maximum))")
            }
        }
        if let bound = rules["exclusiveMinimum"]?.doubleValue, number <= bound {
            throw Violation(path: path, message: "must be greater than \(Self.format(bound))")
        }
        if let bound = rules["exclusiveMaximum"]?.doubleValue, number >= bound {
            throw Violation(path: path, message: "must be less than \(Self.format(bound))")
        }
        if let step = rules["multipleOf"]?.doubleValue, step > 0 {
            let quotient = number / step
            if abs(quotient - quotient.rounded()) > 1e-9 { throw Violation(path: path, message: "must be a multiple of \(Self.format(step))") }
        }
    }

    private func validateString(_ text: String, rules: [String: JSONValue], path: String) throws(Violation) {
        let length = text.count
        if let minimum = rules["minLength"]?.intValue, length < minimum {
            throw Violation(path: path, message: "must be at least \(minimum) characters long")
        }
        if let maximum = rules["maxLength"]?.intValue, length > maximum {
            throw Violation(path: path, message: "must be at most \(maximum) characters long")
        }
        if let pattern = rules["pattern"]?.stringValue, let regex = try? NSRegularExpression(pattern: pattern) {
            let range = NSRange(text.startIndex..., in: text)
            if regex.firstMatch(in: text, range: range) == nil {
                throw Violation(path: path, message: "must match the pattern \(pattern)")
            }
        }
    }

    private static func matches(_ value: JSONValue, type: String) -> Bool {
        switch (type, value) {
        case ("null", .null), ("boolean", .bool), ("object", .object), ("array", .array), ("string", .string), ("number", .number):
            return true
        case ("integer", .number(let number)):
            return number.isFinite && number == number.rounded()
        default:
            return false
        }
    }

    private func resolve(_ reference: String) -> JSONValue? {
        guard reference.hasPrefix("#") else { return nil }
        var node = root
        for token in reference.dropFirst().split(separator: "/", omittingEmptySubsequences: true) {
            let key = token.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            if let object = node.objectValue, let next = object[key] {
                node = next
            } else if let array = node.arrayValue, let index = Int(key), array.indices.contains(index) {
                node = array[index]
            } else {
                return nil
            }
        }
        return node
    }

    private static func escape(_ name: String) -> String {
        name.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1")
    }

    private static func format(_ number: Double) -> String {
        number == number.rounded() && abs(number) < 1e15 ? String(Int(number)) : String(number)
    }
}
